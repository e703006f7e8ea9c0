//! The inference engine the CLI and the editor share, so that the same scene, styles and seed give the same
//! pixels everywhere: a [`Renderer`] turns a label map, an instance map and style choices into a photo, and
//! [`Models`] adds the quick preview shown while the full render runs. The rules that must agree (a scene's style
//! table, the preview's scale, the style thumbnails' crops, where the bundled model is) live here once.
//!
//! The generator needs sizes that are multiples of its size base (16 for a global G, 32 for label2city_1024p);
//! other sizes are padded by repeating the edge pixels of the maps (no new classes or ids appear) and the output is
//! cropped back, so the result always has the input's size.

mod auto;
mod preview;
mod thumbs;

pub use auto::{AUTO_MIN_PSNR_DB, Chosen, Fidelity, PrecisionChoice, auto_candidates, check_input, choose};
pub use preview::{
    Models, PREVIEW_DIR, PREVIEW_MAX_WIDTH, Picture, preview_factor, preview_model_warning, shrink, shrink_maps,
};
pub use thumbs::{Thumb, thumb_crop};

use crate::data::encode::{EncodeError, Maps, encode_input, encode_input_parts};
use crate::features::encode::open_encoder;
use crate::features::{CLUSTERS_FILE, Clusters, ClustersError, StyleError, StyleSpec};
use crate::model::checkpoint::{self, CheckpointError};
use crate::model::encoder::Encoder;
use crate::model::memory;
use crate::model::runtime::{GeneratorModel, ModelError, ResolvedModel};
use crate::scene::Scene;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor, nn};

/// Where the bundled default model lives, relative to the project.
pub const BUNDLED_MODEL: &str = "models/default";

/// The bundled model's folder: `models/default` under the working directory, else in the source tree.
pub fn bundled_model_dir() -> PathBuf {
    crate::fs::project_path(BUNDLED_MODEL)
}

/// The style table a scene renders with: its own choices, keyed by instance-map value (an object's id, or the bare
/// class id of a stuff region or of a group of objects without instances), over `seed` for everything unchosen.
/// A choice under a class id styles exactly the pixels holding that value, as in the scene file; styling every
/// object of a class is [`StyleSpec::by_class`], which a scene does not set.
pub fn scene_styles(scene: &Scene, seed: u64) -> StyleSpec {
    StyleSpec { seed, by_id: scene.styles().clone(), ..Default::default() }
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Clusters(#[from] ClustersError),
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error(transparent)]
    Style(#[from] StyleError),
    #[error(transparent)]
    Encoder(#[from] crate::features::encode::EncoderError),
    #[error(transparent)]
    TooBig(#[from] crate::model::memory::TooBig),
    #[error("the maps hold {label} label and {inst} instance values, not the {w}×{h} a render was asked for")]
    MapSize { label: usize, inst: usize, w: usize, h: usize },
    #[error("model {}: {error}", path.display())]
    InModel { path: PathBuf, error: ModelError },
    #[error("rendering failed: {0}")]
    Torch(String),
    #[error("the model has no generator weights; give --model a run folder or a weight file")]
    NoWeights,
    #[error(
        "the model takes style features (instance_feat) but has neither a clusters.json nor an encoder \
         (latest_net_E) beside its weights; run `pix2pixhd encode` on its run folder"
    )]
    NoStyleSource,
    #[error("--encode-from needs the model's encoder (latest_net_E.safetensors), which {dir} does not have")]
    NoEncoder { dir: String },
    #[error("the photo has {got} RGB pixels but the label map has {w}×{h}")]
    PhotoSize { got: usize, w: usize, h: usize },
    #[error("preview model {}: {source}", dir.display())]
    Preview { dir: PathBuf, source: Box<RenderError> },
    #[error(
        "{}: feat_num is {got} but the model's configuration has feat_num {want}; the clusters are of another \
         model (run `pix2pixhd encode` on this model's folder)", path.display()
    )]
    ClustersFeatNum { path: PathBuf, got: usize, want: i64 },
    #[error("style thumbnails need a model with clusters.json; run `pix2pixhd encode` on its run folder")]
    NoClusters,
    #[error("there is no object {id} in the instance map")]
    NoSuchObject { id: u32 },
    #[error("object {id} is of class {class}, which has no style clusters in this model")]
    NoClustersForClass { id: u32, class: u32 },
}

/// Pads a row-major `w`×`h` map of `c` interleaved channels to `pw`×`ph` by repeating its last column and row.
fn pad_edge<T: Copy>(src: &[T], w: usize, h: usize, c: usize, pw: usize, ph: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(pw * ph * c);
    for y in 0..ph {
        let sy = y.min(h - 1);
        for x in 0..pw {
            let sx = x.min(w - 1);
            out.extend_from_slice(&src[(sy * w + sx) * c..(sy * w + sx + 1) * c]);
        }
    }
    out
}

fn round_up(v: usize, base: usize) -> usize {
    v.div_ceil(base) * base
}

/// A generator ready to render, with what style picking needs: the clusters file and/or the encoder E.
pub struct Renderer {
    pub g: GeneratorModel,
    pub e: Option<(nn::VarStore, Encoder)>,
    pub clusters: Option<Clusters>,
    /// The folder the weights came from, for messages.
    pub source: PathBuf,
    /// The inference path G runs on, and why.
    pub chosen: Chosen,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer").field("g", &self.g).field("source", &self.source).finish()
    }
}

impl Renderer {
    /// Loads G (and, for a model with features, E and `clusters.json` from the same folder).
    /// The precision is chosen once here ([`choose`]).
    pub fn open(model: &ResolvedModel, device: Device, precision: PrecisionChoice) -> Result<Self, RenderError> {
        let weights = model.files.g_weights.as_ref().ok_or(RenderError::NoWeights)?;
        let (mut g, _) = GeneratorModel::load(&model.cfg, weights, device).map_err(|e| match e {
            // Errors of the configuration as a whole: say which model they are about.
            ModelError::TooBig(_) | ModelError::Torch(_) => {
                RenderError::InModel { path: model.files.config.clone().unwrap_or_else(|| weights.clone()), error: e }
            }
            e => e.into(),
        })?;
        let chosen = memory::guard(|| choose(&mut g, precision)).map_err(RenderError::Torch)?;
        let dir = model.dir().unwrap_or(Path::new(".")).to_path_buf();
        let (mut e, mut clusters) = (None, None);
        if model.cfg.use_features() {
            if checkpoint::find_weights(&dir, "E").is_some() {
                e = Some(open_encoder(&dir, &model.cfg, device)?);
            }
            let c = dir.join(CLUSTERS_FILE);
            if c.is_file() {
                let loaded = Clusters::load(&c)?;
                if loaded.feat_num as i64 != model.cfg.feat_num {
                    return Err(RenderError::ClustersFeatNum {
                        path: c,
                        got: loaded.feat_num,
                        want: model.cfg.feat_num,
                    });
                }
                clusters = Some(loaded);
            }
            if e.is_none() && clusters.is_none() {
                return Err(RenderError::NoStyleSource);
            }
        }
        Ok(Self { g, e, clusters, source: dir, chosen })
    }

    pub fn device(&self) -> Device {
        self.g.device()
    }

    /// Renders a whole scene with `styles` (see [`scene_styles`]).
    pub fn render_scene(&self, scene: &Scene, styles: &StyleSpec) -> Result<Vec<u8>, RenderError> {
        let size = (scene.width() as usize, scene.height() as usize);
        self.render(scene.label(), scene.inst(), size, styles, None)
    }

    /// Renders `label`/`inst` (`w`×`h`) to RGB bytes of the same size. Styles come from the clusters with `styles`,
    /// or, with `photo` (RGB bytes, same size), from the encoder run on that photo.
    pub fn render(
        &self,
        label: &[u8],
        inst: &[u32],
        (w, h): (usize, usize),
        styles: &StyleSpec,
        photo: Option<&[u8]>,
    ) -> Result<Vec<u8>, RenderError> {
        let cfg = &self.g.cfg;
        if w == 0 || h == 0 || label.len() != w * h || inst.len() != w * h {
            return Err(RenderError::MapSize { label: label.len(), inst: inst.len(), w, h });
        }
        let base = cfg.size_base() as usize;
        // The residual blocks reflect-pad by 1 at 1/base of the size, which needs at least 2 pixels there.
        let (pw, ph) = (round_up(w, base).max(2 * base), round_up(h, base).max(2 * base));
        let device = self.device();
        let elt = self.g.precision().kind().elt_size_in_bytes();
        let need = memory::render_bytes(cfg, pw, ph, elt);
        memory::check_fits(|| format!("rendering {w}×{h} with this model (ngf {})", cfg.ngf), need, device)?;
        memory::guard(|| self.render_padded(label, inst, (w, h), (pw, ph), styles, photo))
            .map_err(RenderError::Torch)?
    }

    fn render_padded(
        &self,
        label: &[u8],
        inst: &[u32],
        (w, h): (usize, usize),
        (pw, ph): (usize, usize),
        styles: &StyleSpec,
        photo: Option<&[u8]>,
    ) -> Result<Vec<u8>, RenderError> {
        let cfg = &self.g.cfg;
        let label_p = pad_edge(label, w, h, 1, pw, ph);
        let inst_p = pad_edge(inst, w, h, 1, pw, ph);
        let device = self.device();
        let feat = if cfg.use_features() {
            Some(match photo {
                Some(rgb) => {
                    if rgb.len() != w * h * 3 {
                        return Err(RenderError::PhotoSize { got: rgb.len() / 3, w, h });
                    }
                    let (_, enc) = self
                        .e
                        .as_ref()
                        .ok_or_else(|| RenderError::NoEncoder { dir: self.source.display().to_string() })?;
                    let rgb_p = pad_edge(rgb, w, h, 3, pw, ph);
                    let img = Tensor::from_slice(&rgb_p)
                        .to_device(device)
                        .reshape([1, ph as i64, pw as i64, 3])
                        .permute([0, 3, 1, 2])
                        .to_kind(Kind::Float)
                        / 127.5
                        - 1.0;
                    let ids = Tensor::from_slice(&inst_p.iter().map(|&v| i64::from(v)).collect::<Vec<_>>())
                        .to_device(device)
                        .reshape([1, 1, ph as i64, pw as i64]);
                    tch::no_grad(|| enc.forward(&img, &ids))
                }
                None => {
                    let clusters = self.clusters.as_ref().ok_or(RenderError::NoStyleSource)?;
                    let f = styles.feature_map(&inst_p, clusters)?;
                    Tensor::from_slice(&f).to_device(device).reshape([
                        1,
                        clusters.feat_num as i64,
                        ph as i64,
                        pw as i64,
                    ])
                }
            })
        } else {
            None
        };
        let maps = Maps { width: pw, height: ph, label: &label_p, inst: Some(&inst_p) };
        let y = if self.g.path().channels_last && cfg.label_nc > 0 {
            self.g.infer_input(&encode_input_parts(maps, cfg, feat.as_ref(), device)?)
        } else {
            self.g.infer(&encode_input(maps, cfg, feat.as_ref(), device)?)
        };
        let rgb = ((y.get(0).narrow(1, 0, h as i64).narrow(2, 0, w as i64) + 1.0) / 2.0 * 255.0)
            .clamp(0.0, 255.0)
            .to_kind(Kind::Uint8)
            .permute([1, 2, 0])
            .contiguous()
            .to_device(Device::Cpu);
        Ok(Vec::<u8>::try_from(rgb.flatten(0, -1)).expect("u8 image"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_padding_repeats_the_border() {
        let m = [1u8, 2, 3, 4];
        assert_eq!(pad_edge(&m, 2, 2, 1, 3, 3), vec![1, 2, 2, 3, 4, 4, 3, 4, 4]);
        assert_eq!(round_up(1000, 32), 1024);
        assert_eq!(round_up(1024, 32), 1024);
    }
}

//! The quick preview the editor shows while the full render runs, and that `render --preview` and
//! `eval-styles --preview` reproduce: the model folder's preview generator (its `preview/` folder; without one, the
//! model itself) on the scene shrunk by an integer factor.

use super::PrecisionChoice;
use super::{RenderError, Renderer};
use crate::features::StyleSpec;
use crate::model::runtime::{ModelFiles, ResolvedModel};
use crate::model::{ModelConfig, NetG};
use crate::scene::Scene;
use std::path::Path;
use tch::Device;

/// The folder inside a model folder that holds its preview generator (the full model's G1 with its own output
/// layer): optional; without it the preview runs the main generator at half the size or less.
pub const PREVIEW_DIR: &str = "preview";

/// The preview is rendered at most this wide (the full render follows at the scene's own size). A preview
/// generator runs at the scale G1 has inside the full model when that is smaller: a quarter for the bundled model's
/// two enhancers, 512×256 for a 2048×1024 scene.
pub const PREVIEW_MAX_WIDTH: u32 = 768;

/// By how much the preview shrinks a scene `width` pixels wide: to at most [`PREVIEW_MAX_WIDTH`], and with a preview
/// generator at least to the scale its G1 sees inside the full local generator (2 per enhancer); without one, the
/// full model at half size or less.
pub fn preview_factor(width: u32, full: &ModelConfig, has_preview: bool) -> u32 {
    let g1 = if full.net_g == NetG::Local { 1u32 << full.n_local_enhancers.clamp(0, 8) } else { 1 };
    width.div_ceil(PREVIEW_MAX_WIDTH).max(if has_preview { g1 } else { 2 })
}

/// Nearest-neighbour shrink of a scene's maps by an integer factor (label maps must stay crisp).
pub fn shrink(s: &Scene, factor: u32) -> (u32, u32, Vec<u8>, Vec<u32>) {
    shrink_maps(s.label(), s.inst(), (s.width(), s.height()), factor)
}

/// [`shrink`] for a label map and an instance map of `width`×`height` pixels.
pub fn shrink_maps(
    label: &[u8],
    inst: &[u32],
    (width, height): (u32, u32),
    factor: u32,
) -> (u32, u32, Vec<u8>, Vec<u32>) {
    let (w, h) = ((width / factor).max(1), (height / factor).max(1));
    let (mut small_label, mut small_inst) =
        (Vec::with_capacity((w * h) as usize), Vec::with_capacity((w * h) as usize));
    let sw = width as usize;
    for y in 0..h as usize {
        let row = (y * factor as usize + factor as usize / 2).min(height as usize - 1) * sw;
        for x in 0..w as usize {
            let i = row + (x * factor as usize + factor as usize / 2).min(sw - 1);
            small_label.push(label[i]);
            small_inst.push(inst[i]);
        }
    }
    (w, h, small_label, small_inst)
}

/// An RGB picture of its own size (a preview is smaller than its scene).
#[derive(Debug, Clone, PartialEq)]
pub struct Picture {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

/// A model as the editor runs it: the full generator, and the preview generator when its folder has one.
#[derive(Debug)]
pub struct Models {
    pub full: Renderer,
    /// `None`: the preview is the full generator at a smaller size.
    pub preview: Option<Renderer>,
}

impl From<Renderer> for Models {
    /// A model without a preview generator (its previews are the model at a smaller size).
    fn from(full: Renderer) -> Models {
        Models { full, preview: None }
    }
}

impl Models {
    /// Loads the model and, from its folder's `preview/`, its preview generator. The preview takes the same style
    /// features as the full model and gets its clusters, so that a cluster index means the same in both.
    pub fn open(model: &ResolvedModel, device: Device, precision: PrecisionChoice) -> Result<Models, RenderError> {
        let full = Renderer::open(model, device, precision)?;
        let dir = full.source.join(PREVIEW_DIR);
        let preview = if dir.is_dir() {
            let preview = ResolvedModel::open(&dir)
                .map_err(RenderError::from)
                .and_then(|m| Renderer::open(&m, device, precision))
                .map_err(|e| RenderError::Preview { dir: dir.clone(), source: Box::new(e) })?;
            Some(Renderer { clusters: full.clusters.clone().or(preview.clusters), ..preview })
        } else {
            None
        };
        Ok(Models { full, preview })
    }

    /// The generator the preview runs.
    pub fn preview_renderer(&self) -> &Renderer {
        self.preview.as_ref().unwrap_or(&self.full)
    }

    /// How much the preview shrinks a scene `width` pixels wide.
    pub fn preview_factor(&self, width: u32) -> u32 {
        preview_factor(width, &self.full.g.cfg, self.preview.is_some())
    }

    /// The maps the preview renders: `label`/`inst` of `size` shrunk by [`Models::preview_factor`].
    pub fn preview_maps(&self, label: &[u8], inst: &[u32], size: (u32, u32)) -> (u32, u32, Vec<u8>, Vec<u32>) {
        shrink_maps(label, inst, size, self.preview_factor(size.0))
    }

    /// The quick preview of a scene, at its own smaller size.
    pub fn render_preview(&self, scene: &Scene, styles: &StyleSpec) -> Result<Picture, RenderError> {
        let (width, height, label, inst) =
            self.preview_maps(scene.label(), scene.inst(), (scene.width(), scene.height()));
        let size = (width as usize, height as usize);
        let rgb = self.preview_renderer().render(&label, &inst, size, styles, None)?;
        Ok(Picture { width, height, rgb })
    }
}

/// A warning for a preview generator named as the model (`--model models/default/preview`) on a scene wider than
/// any preview: it learnt scenes at the scale its G1 has inside the model folder around it, so at this size its
/// picture is off.
pub fn preview_model_warning(source: &Path, (width, height): (u32, u32)) -> Option<String> {
    if source.file_name()? != PREVIEW_DIR || width <= PREVIEW_MAX_WIDTH {
        return None;
    }
    let parent = source.parent().filter(|p| !p.as_os_str().is_empty())?;
    let cfg = ModelConfig::load(ModelFiles::locate(parent).ok()?.config.as_ref()?).ok()?;
    let f = preview_factor(width, &cfg, true);
    (f > 1).then(|| {
        format!(
            "warning: {} is the preview generator of the model in {p}: the editor runs it on this scene shrunk {f} \
             times ({}×{}), the scale it learnt, and at full size its picture will look wrong. \
             `pix2pixhd render --model {p} --preview` renders that.",
            source.display(),
            width / f,
            height / f,
            p = parent.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preview_runs_g1_at_its_own_scale_and_never_wider_than_the_cap() {
        let local = |n| ModelConfig { net_g: NetG::Local, n_local_enhancers: n, ..Default::default() };
        // Two enhancers: G1 sees a quarter of the scene inside the full model; the preview runs it there.
        assert_eq!(preview_factor(2048, &local(2), true), 4);
        // One enhancer: half would be 1024 wide, over the cap: a third.
        assert_eq!(preview_factor(2048, &local(1), true), 3);
        assert_eq!(preview_factor(512, &local(1), true), 2);
        // A global model with a preview generator: only the cap.
        let global = ModelConfig { net_g: NetG::Global, ..Default::default() };
        assert_eq!(preview_factor(512, &global, true), 1);
        // No preview generator: the full model at half size or less.
        assert_eq!(preview_factor(512, &global, false), 2);
        assert_eq!(preview_factor(4096, &local(2), false), 6);
    }

    #[test]
    fn shrink_keeps_classes_crisp() {
        let mut label = vec![7u8; 8 * 4];
        for y in 0..4 {
            for x in 4..8 {
                label[y * 8 + x] = 11;
            }
        }
        let s = Scene::from_maps(8, 4, label, None).unwrap();
        let (w, h, l, i) = shrink(&s, 2);
        assert_eq!((w, h), (4, 2));
        assert_eq!(l, vec![7, 7, 11, 11, 7, 7, 11, 11]);
        assert_eq!(i, vec![7, 7, 11, 11, 7, 7, 11, 11]);
    }
}

//! Running a trained encoder E over a data set: every region larger than 1/64 of its image (instances and stuff
//! alike, as the reference's encode_features does) with its pooled feature and its mean real colour, ready for
//! [`cluster_regions`](super::cluster_regions).

use super::{MIN_REGION_FRACTION, RegionFeature};
use crate::data::{DataError, Loader};
use crate::labels;
use crate::model::ModelConfig;
use crate::model::checkpoint::{self, CheckpointError};
use crate::model::encoder::Encoder;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor, nn};

#[derive(Debug, thiserror::Error)]
pub enum EncoderError {
    #[error("model folder {} has no encoder weights (latest_net_E.*)", dir.display())]
    NoEncoder { dir: PathBuf },
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("{name}: encoding needs the photos of the data set, and this sample has none")]
    NoPhoto { name: String },
    #[error("{what}: {message}")]
    Torch { what: String, message: String },
}

/// E of the model in `dir`, with its weights, on `device`.
pub fn open_encoder(dir: &Path, cfg: &ModelConfig, device: Device) -> Result<(nn::VarStore, Encoder), EncoderError> {
    let file = checkpoint::find_weights(dir, "E").ok_or_else(|| EncoderError::NoEncoder { dir: dir.to_path_buf() })?;
    let (vs, enc) = crate::model::memory::guard(|| {
        crate::model::with_seed(0, || {
            let vs = nn::VarStore::new(device);
            let enc = Encoder::new(&vs.root(), cfg);
            (vs, enc)
        })
    })
    .map_err(|message| EncoderError::Torch {
        what: format!("cannot build the encoder for {}", file.display()),
        message,
    })?;
    checkpoint::load_var_store(&vs, &file, |_| false)?;
    Ok((vs, enc))
}

/// Per region of one image: (id, pixel count, pooled feature, mean RGB 0..255), all ids at once on the device.
fn regions_of(feat: &Tensor, ids: &Tensor, image: &Tensor) -> Vec<(i64, i64, Vec<f32>, [f32; 3])> {
    let (_, c, h, w) = feat.size4().expect("[1, C, H, W]");
    let ids = ids.reshape([h * w]).to_kind(Kind::Int64);
    let (uniq, inverse, counts) = ids.internal_unique2(true, true, true);
    let n = uniq.size()[0];
    let f = feat.reshape([c, h * w]).transpose(0, 1);
    let rgb = ((image.reshape([3, h * w]).transpose(0, 1) + 1.0) * 127.5).to_kind(Kind::Float);
    let sums = Tensor::zeros([n, c], (Kind::Float, feat.device())).index_add(0, &inverse, &f);
    let rgb_sums = Tensor::zeros([n, 3], (Kind::Float, feat.device())).index_add(0, &inverse, &rgb);
    let cnt = counts.to_kind(Kind::Float).unsqueeze(1);
    let means: Vec<f32> = Vec::try_from((sums / &cnt).flatten(0, -1).to_device(Device::Cpu)).expect("f32");
    let rgbs: Vec<f32> = Vec::try_from((rgb_sums / &cnt).flatten(0, -1).to_device(Device::Cpu)).expect("f32");
    let uniq: Vec<i64> = Vec::try_from(uniq.to_device(Device::Cpu)).expect("i64");
    let counts: Vec<i64> = Vec::try_from(counts.to_device(Device::Cpu)).expect("i64");
    (0..n as usize)
        .map(|i| {
            let fe = means[i * c as usize..(i + 1) * c as usize].to_vec();
            (uniq[i], counts[i], fe, [rgbs[3 * i], rgbs[3 * i + 1], rgbs[3 * i + 2]])
        })
        .collect()
}

/// The large regions of every sample `loader` gives (batches of one), encoded by `enc`; `progress` is called after
/// each sample.
pub fn encode_regions(
    enc: &Encoder,
    cfg: &ModelConfig,
    loader: &Loader,
    device: Device,
    mut progress: impl FnMut(),
) -> Result<Vec<RegionFeature>, EncoderError> {
    let mut regions = Vec::new();
    for batch in loader.epoch(0)? {
        let batch = batch?;
        let name = || batch.names.first().cloned().unwrap_or_default();
        let image = batch.image.as_ref().ok_or_else(|| EncoderError::NoPhoto { name: name() })?.to_device(device);
        let ids = if cfg.label_feat { &batch.label } else { batch.inst.as_ref().unwrap_or(&batch.label) };
        let ids = ids.to_device(device);
        let (_, _, h, w) = image.size4().expect("[1, 3, H, W]");
        let found = crate::model::memory::guard(|| {
            let feat = tch::no_grad(|| enc.forward(&image, &ids));
            regions_of(&feat, &ids, &image)
        })
        .map_err(|message| EncoderError::Torch { what: format!("cannot encode {}", name()), message })?;
        for (id, count, feature, mean_rgb) in found {
            // The reference keeps regions covering more than 1/64 of the image.
            if (count as f64) / ((h * w) as f64) <= MIN_REGION_FRACTION {
                continue;
            }
            let class = if cfg.label_feat { id as u32 } else { labels::class_of_instance(id as u32) };
            regions.push(RegionFeature { class, feature, mean_rgb });
        }
        progress();
    }
    Ok(regions)
}

//! The feature encoder E and its instance-wise average pooling (Wang et al. 2018, §3.4).
//!
//! E is a GlobalGenerator without residual blocks (keys `model.*`, head at `model.{5 + 6N}`), mapping the real
//! photo [B, 3, H, W] to [B, feat_num, H, W]. Pooling then replaces each pixel's features by the mean over the
//! pixels that share its id in the same batch item — the reference's per-id, per-item loop, done here in one
//! index_add pass over all ids at once.

use super::config::ModelConfig;
use super::generator::GlobalGenerator;
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

#[derive(Debug)]
pub struct Encoder {
    net: GlobalGenerator,
}

impl Encoder {
    /// `p` is the root of E's var store.
    pub fn new(p: &nn::Path, cfg: &ModelConfig) -> Self {
        Self {
            net: GlobalGenerator::new(p / "model", cfg.output_nc, cfg.feat_num, cfg.nef, cfg.n_downsample_e, 0, true),
        }
    }

    /// The raw per-pixel features, before pooling.
    pub fn raw(&self, image: &Tensor) -> Tensor {
        self.net.forward(image)
    }

    /// E(image) pooled over the regions of `ids` ([B, 1, H, W] or [B, H, W], any integer kind).
    pub fn forward(&self, image: &Tensor, ids: &Tensor) -> Tensor {
        instance_pool(&self.raw(image), ids)
    }
}

/// Replaces every pixel of `feat` [B, C, H, W] by the mean of its channel over the pixels of the same batch item
/// with the same id in `ids`. Gradients flow through the means.
pub fn instance_pool(feat: &Tensor, ids: &Tensor) -> Tensor {
    let (b, c, h, w) = feat.size4().expect("features must be [B, C, H, W]");
    let ids = ids.reshape([b, h * w]).to_kind(Kind::Int64).to_device(feat.device());
    // Dense group index per (item, id): item * n_ids + rank of the id among all ids present.
    let (_, inverse, _) = ids.internal_unique2(true, true, false);
    let n_ids = inverse.max().int64_value(&[]) + 1;
    let item = Tensor::arange(b, (Kind::Int64, feat.device())).unsqueeze(1);
    let group = (inverse + item * n_ids).reshape([-1]);
    let n_groups = b * n_ids;
    let flat = feat.permute([0, 2, 3, 1]).reshape([-1, c]);
    let sums = Tensor::zeros([n_groups, c], (feat.kind(), feat.device())).index_add(0, &group, &flat);
    let ones = Tensor::ones([group.size()[0]], (feat.kind(), feat.device()));
    let counts = Tensor::zeros([n_groups], (feat.kind(), feat.device())).index_add(0, &group, &ones);
    let means = sums / counts.clamp_min(1.0).unsqueeze(1);
    means.index_select(0, &group).reshape([b, h, w, c]).permute([0, 3, 1, 2]).contiguous()
}

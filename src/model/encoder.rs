//! The feature encoder E and its instance-wise average pooling (Wang et al. 2018, §3.4).
//!
//! E is a GlobalGenerator without residual blocks (keys `model.*`, head at `model.{5 + 6N}`), mapping the real
//! photo [B, 3, H, W] to [B, feat_num, H, W]. Pooling then replaces each pixel's features by the mean over the
//! pixels that share its id in the same batch item — the reference's per-id, per-item loop, done here in one
//! index_add pass over all ids at once.
//!
//! With `encoder_downsample` s > 1 (not in the reference), E runs on the photo shrunk s times (area average, to a
//! size its downsampling allows), its raw features are enlarged back (nearest) and the pooling is done at full size
//! on the full-size ids: every instance still gets one feature vector, computed from the photo at E's own scale.

use super::config::ModelConfig;
use super::generator::GlobalGenerator;
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

#[derive(Debug)]
pub struct Encoder {
    net: GlobalGenerator,
    downsample: i64,
    base: i64,
}

impl Encoder {
    /// `p` is the root of E's var store.
    pub fn new(p: &nn::Path, cfg: &ModelConfig) -> Self {
        Self {
            net: GlobalGenerator::new(p / "model", cfg.output_nc, cfg.feat_num, cfg.nef, cfg.n_downsample_e, 0, true),
            downsample: cfg.encoder_downsample.max(1),
            base: 1 << cfg.n_downsample_e,
        }
    }

    /// The raw per-pixel features at the image's size, before pooling (E run at its `encoder_downsample` scale).
    pub fn raw(&self, image: &Tensor) -> Tensor {
        if self.downsample == 1 {
            return self.net.forward(image);
        }
        let (_, _, h, w) = image.size4().expect("images must be [B, C, H, W]");
        // The shrunk size, rounded to the multiple of `base` E's down- and upsampling need.
        let side = |n: i64| ((n as f64 / (self.downsample * self.base) as f64).round() as i64).max(1) * self.base;
        let small = image.adaptive_avg_pool2d([side(h), side(w)]);
        self.net.forward(&small).upsample_nearest2d([h, w], None, None)
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

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn encoder(downsample: i64) -> (nn::VarStore, Encoder) {
        let cfg = ModelConfig { nef: 4, n_downsample_e: 2, encoder_downsample: downsample, ..ModelConfig::default() };
        crate::model::with_seed(3, || {
            let vs = nn::VarStore::new(Device::Cpu);
            let e = Encoder::new(&vs.root(), &cfg);
            (vs, e)
        })
    }

    fn up2(t: &Tensor) -> Tensor {
        let (_, _, h, w) = t.size4().unwrap();
        t.upsample_nearest2d([2 * h, 2 * w], None, None)
    }

    #[test]
    fn a_downsampling_encoder_gives_on_a_big_photo_what_it_gives_on_the_small_one() {
        let small = Tensor::rand([1, 3, 8, 8], (Kind::Float, Device::Cpu)) * 2.0 - 1.0;
        let ids_small = Tensor::from_slice(&[1i64, 1, 1, 2, 2, 2, 5, 5])
            .reshape([1, 1, 1, 8])
            .expand([1, 1, 8, 8], false)
            .contiguous();
        let ids_big = up2(&ids_small.to_kind(Kind::Float)).to_kind(Kind::Int64);
        let (_vs1, at_full) = encoder(1);
        let (_vs2, shrinking) = encoder(2);
        let want = up2(&at_full.forward(&small, &ids_small));
        let got = shrinking.forward(&up2(&small), &ids_big);
        assert_eq!(got.size(), [1, 3, 16, 16]);
        let diff = (&got - &want).abs().max().double_value(&[]);
        assert!(diff < 1e-5, "features differ by {diff}");
        // Without the shrinking, E on the big photo sees other detail and gives other features.
        let full = at_full.forward(&up2(&small), &ids_big);
        assert!((&full - &want).abs().max().double_value(&[]) > 1e-3);
    }

    #[test]
    fn sizes_that_do_not_divide_still_give_one_feature_per_instance_at_full_size() {
        let (_vs, e) = encoder(2);
        let image = Tensor::rand([1, 3, 20, 12], (Kind::Float, Device::Cpu));
        let ids = Tensor::zeros([1, 1, 20, 12], (Kind::Int64, Device::Cpu));
        let _ = ids.narrow(2, 0, 7).fill_(4);
        let f = e.forward(&image, &ids);
        assert_eq!(f.size(), [1, 3, 20, 12]);
        for (start, len) in [(0, 7), (7, 13)] {
            let part = f.narrow(2, start, len);
            let spread = (part.amax([2, 3], false) - part.amin([2, 3], false)).max().double_value(&[]);
            assert!(spread < 1e-6, "rows {start}.. are not one feature vector: spread {spread}");
        }
    }
}

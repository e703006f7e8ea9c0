//! The multi-scale PatchGAN discriminators of pix2pixHD (Wang et al. 2018, §3.2).
//!
//! NLayerDiscriminator: 4×4 convs with padding 2; `n_layers` stride-2 blocks (the last one stride 1), LeakyReLU(0.2),
//! instance norm from block 1 on, then a 1-channel patch score. MultiscaleDiscriminator runs `num_d` of them on the
//! input downsampled 0, 1, ... times; scale `num_d - 1 - i` sees the input downsampled `i` times, so results come
//! full resolution first. With intermediate features (the default, needed by feature matching) each block's output
//! is returned and the keys are `scale{i}_layer{j}.0.*`; without, the keys are `layer{i}.{0,2,5,8,...}.*`.
//!
//! The score is always the raw value. The reference appends a Sigmoid for the BCE loss (`--no_lsgan`); here the BCE
//! loss works on logits instead (same value, numerically safer, and the reference loses that Sigmoid anyway when
//! intermediate features are on).

use super::config::ModelConfig;
use super::layers::{conv2d, downsample, instance_norm};
use tch::Tensor;
use tch::nn::{self, Module};

#[derive(Debug)]
struct Block {
    conv: nn::Conv2D,
    norm: bool,
    act: bool,
}

impl Block {
    fn forward(&self, x: &Tensor) -> Tensor {
        let mut h = self.conv.forward(x);
        if self.norm {
            h = instance_norm(&h);
        }
        // LeakyReLU(0.2); tch's leaky_relu has PyTorch's default slope 0.01 and no slope argument.
        if self.act { h.maximum(&(&h * 0.2)) } else { h }
    }
}

/// One PatchGAN, as scale `scale` of a multiscale D.
#[derive(Debug)]
pub struct NLayerDiscriminator {
    blocks: Vec<Block>,
    interm: bool,
}

impl NLayerDiscriminator {
    fn new(p: &nn::Path, scale: i64, input_nc: i64, ndf: i64, n_layers: i64, interm: bool) -> Self {
        // Block j's conv lives at `scale{s}_layer{j}.0` (intermediate features) or at its index in the flattened
        // Sequential `layer{s}` (0, then 3 per normed block after the first two-layer block).
        let conv_path = |j: i64| -> nn::Path<'_> {
            if interm {
                p / format!("scale{scale}_layer{j}") / 0
            } else {
                p / format!("layer{scale}") / if j == 0 { 0 } else { 2 + 3 * (j - 1) }
            }
        };
        let mut blocks = vec![Block { conv: conv2d(conv_path(0), input_nc, ndf, 4, 2, 2), norm: false, act: true }];
        let mut nf = ndf;
        for j in 1..=n_layers {
            let prev = nf;
            nf = (nf * 2).min(512);
            let stride = if j < n_layers { 2 } else { 1 };
            blocks.push(Block { conv: conv2d(conv_path(j), prev, nf, 4, stride, 2), norm: true, act: true });
        }
        blocks.push(Block { conv: conv2d(conv_path(n_layers + 1), nf, 1, 4, 1, 2), norm: false, act: false });
        Self { blocks, interm }
    }

    /// Every block's output (the last is the patch score), or just the score without intermediate features.
    pub fn forward(&self, x: &Tensor) -> Vec<Tensor> {
        let mut outs = Vec::with_capacity(self.blocks.len());
        let mut h = x.shallow_clone();
        for b in &self.blocks {
            h = b.forward(&h);
            if self.interm {
                outs.push(h.shallow_clone());
            }
        }
        if !self.interm {
            outs.push(h);
        }
        outs
    }
}

/// `num_d` PatchGANs at successively halved resolutions.
#[derive(Debug)]
pub struct MultiscaleDiscriminator {
    scales: Vec<NLayerDiscriminator>,
}

impl MultiscaleDiscriminator {
    /// `p` is the root of D's var store.
    pub fn new(p: &nn::Path, input_nc: i64, ndf: i64, n_layers: i64, num_d: i64, interm: bool) -> Self {
        let scales = (0..num_d).map(|s| NLayerDiscriminator::new(p, s, input_nc, ndf, n_layers, interm)).collect();
        Self { scales }
    }

    /// D as the config asks: input [label one-hot | edges | image] channels, intermediate features unless
    /// `no_gan_feat_loss`.
    pub fn from_config(p: &nn::Path, cfg: &ModelConfig) -> Self {
        Self::new(p, cfg.d_input_nc(), cfg.ndf, cfg.n_layers_d, cfg.num_d, !cfg.no_gan_feat_loss)
    }

    /// Results full resolution first: `out[i]` comes from scale `num_d - 1 - i` on the input downsampled `i` times.
    pub fn forward(&self, x: &Tensor) -> Vec<Vec<Tensor>> {
        let n = self.scales.len();
        let mut input = x.shallow_clone();
        let mut result = Vec::with_capacity(n);
        for i in 0..n {
            result.push(self.scales[n - 1 - i].forward(&input));
            if i + 1 != n {
                input = downsample(&input);
            }
        }
        result
    }
}

//! The pix2pixHD generators: GlobalGenerator (G1) and LocalEnhancer (G1 + G2, G3, ...), Wang et al. 2018, §3.2.
//!
//! Layer indices and names reproduce the reference `nn.Sequential` exactly (weightless pad/norm/ReLU layers still
//! take their index), so a reference state dict loads with no renaming. Shapes: input [B, g_input_nc, H, W] with H, W
//! multiples of `ModelConfig::size_base()`; output [B, output_nc, H, W] in [-1, 1].

use super::config::{ModelConfig, NetG};
use super::layers::{
    Norms, ResnetBlock, conv_norm_relu, conv_norm_relu_with, conv_transpose_up, conv2d, downsample, reflect_pad,
};
use tch::Tensor;
use tch::nn::{self, Module};

/// The reference GlobalGenerator. `with_head: false` drops the last three layers (pad, 7×7 conv, Tanh), which is
/// how the LocalEnhancer reuses it as its global part.
#[derive(Debug)]
pub struct GlobalGenerator {
    first: nn::Conv2D,
    down: Vec<nn::Conv2D>,
    blocks: Vec<ResnetBlock>,
    up: Vec<nn::ConvTranspose2D>,
    head: Option<nn::Conv2D>,
}

impl GlobalGenerator {
    /// `p` is the path of the Sequential (`.../model`); indices follow the reference table.
    pub fn new(
        p: nn::Path,
        input_nc: i64,
        output_nc: i64,
        ngf: i64,
        n_down: i64,
        n_blocks: i64,
        with_head: bool,
    ) -> Self {
        let first = conv2d(&p / 1, input_nc, ngf, 7, 1, 0);
        let down = (0..n_down)
            .map(|i| {
                let m = 1 << i;
                conv2d(&p / (4 + 3 * i), ngf * m, ngf * m * 2, 3, 2, 1)
            })
            .collect();
        let dim = ngf << n_down;
        let blocks = (0..n_blocks).map(|b| ResnetBlock::new(&p / (4 + 3 * n_down + b), dim)).collect();
        let up = (0..n_down)
            .map(|i| {
                let m = 1 << (n_down - i);
                conv_transpose_up(&p / (4 + 3 * n_down + n_blocks + 3 * i), ngf * m, ngf * m / 2)
            })
            .collect();
        let head = with_head.then(|| conv2d(&p / (5 + 6 * n_down + n_blocks), ngf, output_nc, 7, 1, 0));
        Self { first, down, blocks, up, head }
    }

    /// The trunk up to the last ReLU, before the head.
    pub fn features(&self, x: &Tensor) -> Tensor {
        let mut h = conv_norm_relu(&self.first, &reflect_pad(x, 3));
        for c in &self.down {
            h = conv_norm_relu(c, &h);
        }
        for b in &self.blocks {
            h = b.forward(&h);
        }
        for c in &self.up {
            h = conv_norm_relu(c, &h);
        }
        h
    }
}

impl Module for GlobalGenerator {
    fn forward(&self, x: &Tensor) -> Tensor {
        let h = self.features(x);
        match &self.head {
            Some(head) => head.forward(&reflect_pad(&h, 3)).tanh_(),
            None => h,
        }
    }
}

/// One enhancer G_n: a front end on the input at its own scale, and a back end applied to
/// `front(x) + coarser output`.
#[derive(Debug)]
struct Enhancer {
    front_conv: nn::Conv2D,
    front_down: nn::Conv2D,
    blocks: Vec<ResnetBlock>,
    up: nn::ConvTranspose2D,
    head: Option<nn::Conv2D>,
}

/// The reference LocalEnhancer with any number K of enhancers. The global part is a GlobalGenerator with
/// ngf·2^K filters under `model.*`; enhancer n lives under `model{n}_1.*` and `model{n}_2.*`.
#[derive(Debug)]
pub struct LocalEnhancer {
    global: GlobalGenerator,
    enhancers: Vec<Enhancer>,
}

impl LocalEnhancer {
    pub fn new(p: &nn::Path, cfg: &ModelConfig) -> Self {
        let k = cfg.n_local_enhancers;
        let (input_nc, ngf) = (cfg.g_input_nc(), cfg.ngf);
        let global = GlobalGenerator::new(
            p / "model",
            input_nc,
            cfg.output_nc,
            ngf << k,
            cfg.n_downsample_global,
            cfg.n_blocks_global,
            false,
        );
        let enhancers = (1..=k)
            .map(|n| {
                let ngf_n = ngf << (k - n);
                let front = p / format!("model{n}_1");
                let back = p / format!("model{n}_2");
                let nb = cfg.n_blocks_local;
                Enhancer {
                    front_conv: conv2d(&front / 1, input_nc, ngf_n, 7, 1, 0),
                    front_down: conv2d(&front / 4, ngf_n, ngf_n * 2, 3, 2, 1),
                    blocks: (0..nb).map(|b| ResnetBlock::new(&back / b, ngf_n * 2)).collect(),
                    up: conv_transpose_up(&back / nb, ngf_n * 2, ngf_n),
                    // Only the last enhancer ends in pad → 7×7 conv → Tanh; it works at full resolution with ngf.
                    head: (n == k).then(|| conv2d(&back / (nb + 4), ngf, cfg.output_nc, 7, 1, 0)),
                }
            })
            .collect();
        Self { global, enhancers }
    }

    /// The global part alone on the coarsest level of the pyramid, ending in its last ReLU (no image head).
    pub fn global(&self) -> &GlobalGenerator {
        &self.global
    }

    /// The enhancers on top of G1's output `out`, each on its level of `pyramid` (finest first), their instance
    /// norms' statistics from `norms`.
    fn enhance(&self, pyramid: &[Tensor], mut out: Tensor, norms: &mut Norms) -> Tensor {
        let k = self.enhancers.len();
        for (n, e) in self.enhancers.iter().enumerate() {
            let input = &pyramid[k - 1 - n];
            let front = conv_norm_relu_with(&e.front_conv, &reflect_pad(input, 3), norms);
            let mut h = conv_norm_relu_with(&e.front_down, &front, norms) + out;
            for b in &e.blocks {
                h = b.forward_with(&h, norms);
            }
            h = conv_norm_relu_with(&e.up, &h, norms);
            out = match &e.head {
                Some(head) => head.forward(&reflect_pad(&h, 3)).tanh_(),
                None => h,
            };
        }
        out
    }

    /// G on crops computed as on the whole frames they were cut from (not in the reference; for training a whole
    /// local generator on crops at a fraction of a whole frame's cost). `crops` [B, C, h, w] are windows of
    /// `frames` [B, C, H, W] at `corners` (x, y), each a multiple of 2^K (K enhancers), as are h and w. G1 runs on
    /// the frames at 1/2^K and the enhancers take the crops' part of its output; their instance norms take the
    /// statistics of the whole frames, from a pass over them without gradients. So the output equals the crop of
    /// `forward(frames)` but for a border where the enhancers' padding sees the crop's edge instead of its
    /// neighbours, and only the crop's pixels have gradients (the norms' statistics are constants to them).
    ///
    /// # Panics
    /// When a corner or the crop size is not a multiple of 2^K, or a crop reaches past its frame.
    pub fn forward_crops(&self, crops: &Tensor, frames: &Tensor, corners: &[(i64, i64)]) -> Tensor {
        let k = self.enhancers.len();
        let scale = 1i64 << k;
        let (_, _, h, w) = crops.size4().expect("crops must be [B, C, h, w]");
        assert!(h % scale == 0 && w % scale == 0, "a {w}×{h} crop is not a multiple of {scale}");
        let mut whole_pyramid = vec![frames.shallow_clone()];
        for i in 0..k {
            let next = downsample(&whole_pyramid[i]);
            whole_pyramid.push(next);
        }
        let whole = self.global.forward(&whole_pyramid[k]);
        let mut stats = Vec::new();
        let _ = tch::no_grad(|| self.enhance(&whole_pyramid[..k], whole.detach(), &mut Norms::Record(&mut stats)));
        let (ch, cw) = (h / scale, w / scale);
        let parts: Vec<Tensor> = corners
            .iter()
            .enumerate()
            .map(|(i, &(x, y))| {
                assert!(x % scale == 0 && y % scale == 0, "crop corner ({x}, {y}) is not a multiple of {scale}");
                whole.get(i as i64).narrow(1, y / scale, ch).narrow(2, x / scale, cw)
            })
            .collect();
        let mut pyramid = vec![crops.shallow_clone()];
        for i in 1..k {
            let next = downsample(&pyramid[i - 1]);
            pyramid.push(next);
        }
        self.enhance(&pyramid, Tensor::stack(&parts, 0), &mut Norms::Replay(stats.iter()))
    }
}

impl Module for LocalEnhancer {
    fn forward(&self, x: &Tensor) -> Tensor {
        let k = self.enhancers.len();
        let mut pyramid = Vec::with_capacity(k + 1);
        pyramid.push(x.shallow_clone());
        for i in 0..k {
            let next = downsample(&pyramid[i]);
            pyramid.push(next);
        }
        let out = self.global.forward(&pyramid[k]);
        self.enhance(&pyramid[..k], out, &mut Norms::Own)
    }
}

/// G as configured: either architecture behind one type.
#[derive(Debug)]
pub enum Generator {
    Global(GlobalGenerator),
    Local(LocalEnhancer),
}

impl Generator {
    /// Builds G under `p` (the root of G's var store) from a validated config.
    pub fn new(p: &nn::Path, cfg: &ModelConfig) -> Self {
        match cfg.net_g {
            NetG::Global => Generator::Global(GlobalGenerator::new(
                p / "model",
                cfg.g_input_nc(),
                cfg.output_nc,
                cfg.ngf,
                cfg.n_downsample_global,
                cfg.n_blocks_global,
                true,
            )),
            NetG::Local => Generator::Local(LocalEnhancer::new(p, cfg)),
        }
    }
}

impl Module for Generator {
    fn forward(&self, x: &Tensor) -> Tensor {
        match self {
            Generator::Global(g) => g.forward(x),
            Generator::Local(g) => g.forward(x),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    fn local() -> (nn::VarStore, LocalEnhancer) {
        let cfg = ModelConfig { no_instance: true, instance_feat: false, ..crate::model::tiny_local_config(2) };
        crate::model::with_seed(5, || {
            let vs = nn::VarStore::new(Device::Cpu);
            let g = LocalEnhancer::new(&vs.root(), &cfg);
            (vs, g)
        })
    }

    #[test]
    fn crops_are_computed_as_on_their_whole_frames() {
        let (vs, g) = local();
        let frames = crate::model::with_seed(1, || Tensor::rand([2, 4, 192, 256], (Kind::Float, Device::Cpu)));
        let full = g.forward(&frames);
        // A crop that is the whole frame: exactly the plain forward pass.
        let whole = g.forward_crops(&frames, &frames, &[(0, 0), (0, 0)]);
        assert!(whole.allclose(&full, 1e-5, 1e-5, false));

        // 128×128 crops at two corners: the crop of the whole frame's output, but for a border where the padding
        // sees the crop's edge; G on the crop alone gives another picture (its norms see only the crop).
        let corners = [(64i64, 32i64), (128, 64)];
        let cut = |t: &Tensor, i: usize, m: i64| {
            t.get(i as i64).narrow(1, corners[i].1 + m, 128 - 2 * m).narrow(2, corners[i].0 + m, 128 - 2 * m)
        };
        let crops = Tensor::stack(&[cut(&frames, 0, 0), cut(&frames, 1, 0)], 0);
        let out = g.forward_crops(&crops, &frames, &corners);
        assert_eq!(out.size(), [2, 3, 128, 128]);
        let m = 40;
        for i in 0..2 {
            let inner = out.get(i as i64).narrow(1, m, 128 - 2 * m).narrow(2, m, 128 - 2 * m);
            assert!(inner.allclose(&cut(&full, i, m), 1e-5, 1e-5, false), "crop {i}");
        }
        let plain = g.forward(&crops).get(0).narrow(1, m, 128 - 2 * m).narrow(2, m, 128 - 2 * m);
        assert!(!plain.allclose(&cut(&full, 0, m), 1e-3, 1e-3, false), "the crop's own norms give another picture");

        // Gradients reach G1 and the enhancers through the crops.
        out.sum(Kind::Float).backward();
        for name in ["model.1.weight", "model1_1.1.weight", "model2_2.0.conv_block.1.weight"] {
            let grad = vs.variables()[name].grad();
            assert!(grad.defined() && grad.abs().sum(Kind::Float).double_value(&[]) > 0.0, "{name}");
        }
    }

    #[test]
    #[should_panic(expected = "not a multiple of 4")]
    fn a_crop_off_g1s_grid_is_refused() {
        let (_vs, g) = local();
        let frames = Tensor::zeros([1, 4, 64, 128], (Kind::Float, Device::Cpu));
        let crops = frames.narrow(2, 0, 32).narrow(3, 2, 32);
        let _ = g.forward_crops(&crops, &frames, &[(2, 0)]);
    }
}

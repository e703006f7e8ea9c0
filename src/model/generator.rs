//! The pix2pixHD generators: GlobalGenerator (G1) and LocalEnhancer (G1 + G2, G3, ...), Wang et al. 2018, §3.2.
//!
//! Layer indices and names reproduce the reference `nn.Sequential` exactly (weightless pad/norm/ReLU layers still
//! take their index), so a reference state dict loads with no renaming. Shapes: input [B, g_input_nc, H, W] with H, W
//! multiples of `ModelConfig::size_base()`; output [B, output_nc, H, W] in [-1, 1].

use super::config::{ModelConfig, NetG};
use super::layers::{ResnetBlock, conv_norm_relu, conv_transpose_up, conv2d, downsample, reflect_pad};
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
}

impl LocalEnhancer {
    /// The enhancers on top of G1's output `out`, each on its level of `pyramid` (finest first).
    fn enhance(&self, pyramid: &[Tensor], mut out: Tensor) -> Tensor {
        let k = self.enhancers.len();
        for (n, e) in self.enhancers.iter().enumerate() {
            let input = &pyramid[k - 1 - n];
            let front = conv_norm_relu(&e.front_down, &conv_norm_relu(&e.front_conv, &reflect_pad(input, 3)));
            let mut h = front + out;
            for b in &e.blocks {
                h = b.forward(&h);
            }
            h = conv_norm_relu(&e.up, &h);
            out = match &e.head {
                Some(head) => head.forward(&reflect_pad(&h, 3)).tanh_(),
                None => h,
            };
        }
        out
    }

    /// G on crops whose G1 sees the whole frames they were cut from (not in the reference; for training the
    /// enhancers on crops while G1's instance norms see what they see at render time). `crops` [B, C, h, w] are
    /// windows of `frames` [B, C, H, W] at `corners` (x, y), each a multiple of 2^K (K enhancers), as are h and w.
    /// G1 runs on the frames at 1/2^K and the enhancers take the crops' part of its output, so with a crop that is
    /// the whole frame this is `forward(frames)`.
    ///
    /// # Panics
    /// When a corner or the crop size is not a multiple of 2^K, or a crop reaches past its frame.
    pub fn forward_crops(&self, crops: &Tensor, frames: &Tensor, corners: &[(i64, i64)]) -> Tensor {
        let k = self.enhancers.len();
        let scale = 1i64 << k;
        let (_, _, h, w) = crops.size4().expect("crops must be [B, C, h, w]");
        assert!(h % scale == 0 && w % scale == 0, "a {w}×{h} crop is not a multiple of {scale}");
        let mut coarse = frames.shallow_clone();
        for _ in 0..k {
            coarse = downsample(&coarse);
        }
        let whole = self.global.forward(&coarse);
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
        self.enhance(&pyramid, Tensor::stack(&parts, 0))
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
        self.enhance(&pyramid[..k], out)
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
        let cfg = ModelConfig {
            label_nc: 4,
            net_g: NetG::Local,
            ngf: 2,
            n_downsample_global: 2,
            n_blocks_global: 1,
            n_local_enhancers: 2,
            n_blocks_local: 1,
            no_instance: true,
            ..Default::default()
        };
        crate::model::with_seed(5, || {
            let vs = nn::VarStore::new(Device::Cpu);
            let g = LocalEnhancer::new(&vs.root(), &cfg);
            (vs, g)
        })
    }

    #[test]
    fn g1_on_the_whole_frame_and_enhancers_on_the_crop() {
        let (vs, g) = local();
        let frames = crate::model::with_seed(1, || Tensor::rand([2, 4, 64, 128], (Kind::Float, Device::Cpu)));
        // A crop that is the whole frame: exactly the plain forward pass.
        let whole = g.forward_crops(&frames, &frames, &[(0, 0), (0, 0)]);
        assert!(whole.allclose(&g.forward(&frames), 1e-5, 1e-6, false));

        // 32×32 crops at two corners: the same shape, another picture than G on the crop alone (G1 sees the
        // whole frame), and G1 learns from them.
        let corners = [(8i64, 4i64), (88, 32)];
        let cut = |i: usize| frames.get(i as i64).narrow(1, corners[i].1, 32).narrow(2, corners[i].0, 32);
        let crops = Tensor::stack(&[cut(0), cut(1)], 0);
        let out = g.forward_crops(&crops, &frames, &corners);
        assert_eq!(out.size(), [2, 3, 32, 32]);
        assert!(!out.allclose(&g.forward(&crops), 1e-3, 1e-3, false));
        out.sum(Kind::Float).backward();
        let g1 = &vs.variables()["model.1.weight"];
        assert!(g1.grad().defined() && g1.grad().abs().sum(Kind::Float).double_value(&[]) > 0.0);

        // G1 sees the whole frame: a change outside both crops (columns 0..4) changes them; the same frames
        // give the same output.
        let again = g.forward_crops(&crops, &frames, &corners);
        assert!(again.allclose(&out, 0.0, 0.0, false));
        let other = frames.copy();
        let _ = other.narrow(3, 0, 4).fill_(0.5);
        assert!(!g.forward_crops(&crops, &other, &corners).allclose(&out, 1e-4, 1e-4, false));
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

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

impl Module for LocalEnhancer {
    fn forward(&self, x: &Tensor) -> Tensor {
        let k = self.enhancers.len();
        let mut pyramid = Vec::with_capacity(k + 1);
        pyramid.push(x.shallow_clone());
        for i in 0..k {
            let next = downsample(&pyramid[i]);
            pyramid.push(next);
        }
        let mut out = self.global.forward(&pyramid[k]);
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

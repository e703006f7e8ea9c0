//! The pix2pixHD generators: GlobalGenerator (G1) and LocalEnhancer (G1 + G2, G3, ...), Wang et al. 2018, §3.2.
//!
//! Layer indices and names reproduce the reference `nn.Sequential` exactly (weightless pad/norm/ReLU layers still
//! take their index), so a reference state dict loads with no renaming. Shapes: input [B, g_input_nc, H, W] with H, W
//! multiples of `ModelConfig::size_base()`; output [B, output_nc, H, W] in [-1, 1].

use super::config::{ModelConfig, NetG};
use super::fast::{GenInput, LabelLevels, norm_act, to_channels_last};
use super::layers::{
    Norms, ResnetBlock, conv_norm_relu, conv_norm_relu_with, conv_transpose_up, conv2d, downsample, reflect_pad,
};
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

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

/// One layer of a trunk on the fast path.
enum Stage<'a> {
    Down(&'a nn::Conv2D),
    Block(&'a ResnetBlock),
    Up(&'a nn::ConvTranspose2D),
}

/// The reflection padding the input of a stage needs (residual blocks pad by 1; the strided and transposed
/// convolutions zero-pad themselves), or `end` past the last stage.
fn pad_for(stage: Option<&Stage>, end: i64) -> i64 {
    match stage {
        Some(Stage::Block(_)) => 1,
        Some(_) => 0,
        None => end,
    }
}

/// The fast path's 7×7 input convolution (reflection padding 3) of G's input at its own resolution: on the CPU with
/// labels, the one-hot channels as a lookup (`GenInput::onehot`) and the others as a convolution.
fn first_conv_fast(conv: &nn::Conv2D, input: &GenInput) -> Tensor {
    let (kind, device) = (conv.ws.kind(), conv.ws.device());
    match &input.onehot {
        Some(hot) if input.uses_kernels(device) => {
            first_conv_labels(conv, &hot.levels(0), 0, input.rest_as(kind, device).as_ref())
        }
        _ => conv.forward(&reflect_pad(&input.to_dense(kind, device), 3)),
    }
}

/// The 7×7 input convolution (reflection padding 3) of one level of G's input on the CPU: its label channels
/// (`level` of `labels`) as a lookup, the other channels (`rest`, channels-last, of the weights' kind) convolved.
fn first_conv_labels(conv: &nn::Conv2D, labels: &LabelLevels, level: usize, rest: Option<&Tensor>) -> Tensor {
    let (kind, device) = (conv.ws.kind(), conv.ws.device());
    let (c_out, c_in) = (conv.ws.size()[0], conv.ws.size()[1]);
    let acc = match rest {
        Some(rest) => {
            let nc = c_in - rest.size()[1];
            let w = conv.ws.narrow(1, nc, c_in - nc);
            to_channels_last(&reflect_pad(rest, 3).conv2d(&w, conv.bs.as_ref(), [1, 1], [0, 0], [1, 1], 1))
        }
        None => {
            let (n, h, w) = labels.size(level);
            let zeros = to_channels_last(&Tensor::zeros([n, c_out, h, w], (kind, device)));
            match &conv.bs {
                Some(b) => to_channels_last(&(zeros + b.reshape([1, -1, 1, 1]))),
                None => zeros,
            }
        }
    };
    labels.conv_add(level, &acc, &conv.ws, 3);
    acc
}

impl GlobalGenerator {
    /// The fast path's trunk after the first convolution (`first`, its raw output), ending in its last ReLU,
    /// reflection-padded by `end_pad`.
    fn trunk_fast(&self, first: &Tensor, end_pad: i64) -> Tensor {
        let stages: Vec<Stage> = (self.down.iter().map(Stage::Down))
            .chain(self.blocks.iter().map(Stage::Block))
            .chain(self.up.iter().map(Stage::Up))
            .collect();
        let mut h = norm_act(first, None, true, pad_for(stages.first(), end_pad));
        for (i, stage) in stages.iter().enumerate() {
            let pad = pad_for(stages.get(i + 1), end_pad);
            h = match stage {
                Stage::Down(c) => norm_act(&c.forward(&h), None, true, pad),
                Stage::Up(c) => norm_act(&c.forward(&h), None, true, pad),
                Stage::Block(b) => b.forward_fast(&h, pad),
            };
        }
        h
    }

    /// G on the fast path (channels-last, the weights' kind, the fused kernels); the raw output, channels-last.
    pub fn forward_fast(&self, input: &GenInput) -> Tensor {
        self.after_first_fast(&first_conv_fast(&self.first, input))
    }

    /// Everything after the first convolution (its raw output `first`): the trunk, and the head if there is one.
    fn after_first_fast(&self, first: &Tensor) -> Tensor {
        match &self.head {
            Some(head) => head.forward(&self.trunk_fast(first, 3)).tanh_(),
            None => self.trunk_fast(first, 0),
        }
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

impl LocalEnhancer {
    /// G on the fast path (channels-last, the weights' kind, the fused kernels); the raw output, channels-last.
    /// When the kernels apply, the label channels of every pyramid level stay labels (pooled sparsely) and each
    /// level's input convolution reads them as a lookup.
    pub fn forward_fast(&self, input: &GenInput) -> Tensor {
        let k = self.enhancers.len();
        let (kind, device) = (self.global.first.ws.kind(), self.global.first.ws.device());
        // The input at 1/2^i, i = 0..=k: its labels as levels and the other channels dense, or all of it dense.
        let pool = |first: Option<Tensor>| -> Vec<Option<Tensor>> {
            let mut levels = vec![first];
            for i in 0..k {
                let next = levels[i].as_ref().map(|x| to_channels_last(&downsample(x)));
                levels.push(next);
            }
            levels
        };
        let labels = input.onehot.as_ref().filter(|_| input.uses_kernels(device)).map(|hot| hot.levels(k));
        let rest = match &labels {
            Some(_) => pool(input.rest_as(kind, device)),
            None => pool(Some(input.to_dense(kind, device))),
        };
        let first_conv = |conv: &nn::Conv2D, level: usize| match &labels {
            Some(l) => first_conv_labels(conv, l, level, rest[level].as_ref()),
            None => conv.forward(&reflect_pad(rest[level].as_ref().expect("a dense level"), 3)),
        };
        let mut out = self.global.after_first_fast(&first_conv(&self.global.first, k));
        for (n, e) in self.enhancers.iter().enumerate() {
            let front = norm_act(&first_conv(&e.front_conv, k - 1 - n), None, true, 0);
            let after_sum = if e.blocks.is_empty() { 0 } else { 1 };
            let mut h = norm_act(&e.front_down.forward(&front), Some((&out, 0)), true, after_sum);
            for (i, b) in e.blocks.iter().enumerate() {
                h = b.forward_fast(&h, if i + 1 < e.blocks.len() { 1 } else { 0 });
            }
            let head_pad = if e.head.is_some() { 3 } else { 0 };
            h = norm_act(&e.up.forward(&h), None, true, head_pad);
            out = match &e.head {
                Some(head) => head.forward(&h).tanh_(),
                None => h,
            };
        }
        out
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

impl Generator {
    /// G on the fast path: channels-last activations in the weights' kind, instance norms with float32 statistics
    /// fused with their ReLU, residual sum and the next layer's reflection padding (`super::fast`). The output is
    /// float32 [N, output_nc, H, W] (contiguous). Within rounding of `forward` in float32.
    pub fn forward_fast(&self, input: &GenInput) -> Tensor {
        let ws = match self {
            Generator::Global(g) => &g.first.ws,
            Generator::Local(g) => &g.global.first.ws,
        };
        // The dense channels in the weights' kind and layout once, for every level that reads them.
        let input = &input.prepared(ws.kind(), ws.device());
        let y = match self {
            Generator::Global(g) => g.forward_fast(input),
            Generator::Local(g) => g.forward_fast(input),
        };
        y.to_kind(Kind::Float).contiguous()
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

    /// The fast path in float32 (channels-last, fused kernels, the one-hot lookups) computes what the reference
    /// path does, within rounding, for both generators; in bfloat16 it stays close.
    #[test]
    fn the_fast_path_agrees_with_the_reference_path() {
        use crate::model::fast::{GenInput, OneHot, to_channels_last};
        use crate::model::runtime::{GeneratorModel, Precision};
        let local = crate::model::tiny_local_config(4);
        let global = ModelConfig { net_g: NetG::Global, ..local.clone() };
        for cfg in [local, global] {
            let nc = cfg.label_nc;
            let (labels, rest) = crate::model::with_seed(7, || {
                let l = Tensor::randint(nc, [1, 64, 96], (Kind::Int64, Device::Cpu));
                (l, Tensor::rand([1, cfg.g_input_nc() - nc, 64, 96], (Kind::Float, Device::Cpu)))
            });
            let hot = OneHot { labels: labels.to_kind(Kind::Uint8), label_nc: nc };
            let dense = Tensor::cat(&[hot.dense(Kind::Float, Device::Cpu).contiguous(), rest.shallow_clone()], 1);
            let mut g = GeneratorModel::random(&cfg, Device::Cpu, 3).unwrap();
            let exact = g.snapshot();
            let want = g.infer(&dense);
            let input = GenInput { onehot: Some(hot), rest: Some(rest) };
            for (p, tol) in [(Precision::Fp32, 1e-5), (Precision::Bf16, 0.1)] {
                g.set_path(crate::model::fast::InferPath::fast(p));
                let fallbacks = crate::model::fast::norm_act_fallbacks();
                let got = g.infer_input(&input);
                let extra = crate::model::fast::norm_act_fallbacks() - fallbacks;
                assert_eq!(extra, 0, "every layer's output stays channels-last ({:?} {p:?})", cfg.net_g);
                let diff = (&got - &want).abs().max().double_value(&[]);
                assert!(diff < tol, "{:?} {p:?}: {diff}", cfg.net_g);
                // A dense input on the fast path (no lookups) gives the same.
                let from_dense = g.infer(&to_channels_last(&dense));
                let diff = (&from_dense - &want).abs().max().double_value(&[]);
                assert!(diff < tol, "{:?} {p:?} dense: {diff}", cfg.net_g);
            }
            g.restore(&exact);
            assert!(g.infer(&dense).equal(&want), "back on the exact path, the same bits");
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

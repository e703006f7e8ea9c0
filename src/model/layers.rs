//! Building blocks shared by the pix2pixHD networks: convolutions with the reference initialisation, instance norm,
//! reflection padding, the count-exclude-pad average pool, and the ResNet block.

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

/// The reference `weights_init`: conv weights ~ N(0, 0.02); biases keep PyTorch's default U(±1/sqrt(fan_in)).
/// PyTorch computes fan_in from dimension 1 of the weight, which for a transposed conv is its *output* channels.
fn bias_init(fan_in: i64) -> nn::Init {
    let bound = 1.0 / (fan_in as f64).sqrt();
    nn::Init::Uniform { lo: -bound, up: bound }
}

const WEIGHT_INIT: nn::Init = nn::Init::Randn { mean: 0.0, stdev: 0.02 };

/// A k×k convolution with bias, zero padding `pad`.
pub fn conv2d(p: nn::Path, c_in: i64, c_out: i64, k: i64, stride: i64, pad: i64) -> nn::Conv2D {
    let cfg = nn::ConvConfig {
        stride,
        padding: pad,
        ws_init: WEIGHT_INIT,
        bs_init: bias_init(c_in * k * k),
        ..Default::default()
    };
    nn::conv2d(p, c_in, c_out, k, cfg)
}

/// The generator's upsampling layer: ConvTranspose2d(k3, s2, p1, output_padding 1), which exactly doubles H and W.
pub fn conv_transpose_up(p: nn::Path, c_in: i64, c_out: i64) -> nn::ConvTranspose2D {
    let cfg = nn::ConvTransposeConfig {
        stride: 2,
        padding: 1,
        output_padding: 1,
        ws_init: WEIGHT_INIT,
        bs_init: bias_init(c_out * 9),
        ..Default::default()
    };
    nn::conv_transpose2d(p, c_in, c_out, 3, cfg)
}

/// InstanceNorm2d(affine=False, track_running_stats=False): always the statistics of the current sample, biased
/// variance, eps 1e-5, in training and inference alike.
pub fn instance_norm(x: &Tensor) -> Tensor {
    x.instance_norm(None::<Tensor>, None::<Tensor>, None::<Tensor>, None::<Tensor>, true, 0.1, 1e-5, true)
}

/// Where the instance norms of a pass take their statistics (per item and channel: mean and biased variance).
/// Not in the reference, which always has `Own`: the other two let a crop be normalised as its whole frame was,
/// so that a network trained on crops computes what it computes on the whole frame (`LocalEnhancer::forward_crops`).
pub enum Norms<'a> {
    /// Each norm from its own input: the reference's InstanceNorm2d.
    Own,
    /// As `Own`, and each norm's statistics appended to the list in call order (detached).
    Record(&'a mut Vec<(Tensor, Tensor)>),
    /// Each norm's output takes the next statistics of a recording made by the same layers on the whole frames;
    /// its gradient is that of a norm over its own input (a straight-through estimate). The recorded statistics
    /// are constants, and a gradient that took them as such would push on each channel's mean and scale, which the
    /// next pass normalises away; the own norm's gradient knows that such shifts do nothing. (Fine-tuning the
    /// bundled model on the CPU drifted either way, less with this estimate: models/README.md.)
    Replay(std::slice::Iter<'a, (Tensor, Tensor)>),
}

impl Norms<'_> {
    /// Instance norm of `x` [B, C, H, W] with the statistics this pass takes.
    ///
    /// # Panics
    /// When a replay runs out of statistics or they do not fit `x` (the recording came from other layers).
    pub fn apply(&mut self, x: &Tensor) -> Tensor {
        match self {
            Norms::Own => instance_norm(x),
            Norms::Record(list) => {
                let dims: &[i64] = &[2, 3];
                let mean = x.detach().mean_dim(dims, true, Kind::Float);
                let var = x.detach().var_dim(dims, false, true);
                list.push((mean, var));
                instance_norm(x)
            }
            Norms::Replay(it) => {
                let (mean, var) = it.next().expect("a replay has recorded statistics for every instance norm");
                let (b, c) = (x.size()[0], x.size()[1]);
                assert_eq!(mean.size(), [b, c, 1, 1], "recorded statistics do not fit a [{b}, {c}, ..] input");
                let own = instance_norm(x);
                let replayed = (x.detach() - mean) / (var + 1e-5).sqrt();
                (replayed - own.detach()) + own
            }
        }
    }
}

/// conv → instance norm → ReLU, the unit every generator stage is made of.
pub fn conv_norm_relu<M: Module>(conv: &M, x: &Tensor) -> Tensor {
    instance_norm(&conv.forward(x)).relu_()
}

/// `conv_norm_relu` with the norm's statistics from `norms`.
pub fn conv_norm_relu_with<M: Module>(conv: &M, x: &Tensor, norms: &mut Norms) -> Tensor {
    norms.apply(&conv.forward(x)).relu_()
}

pub fn reflect_pad(x: &Tensor, p: i64) -> Tensor {
    x.reflection_pad2d([p, p, p, p])
}

/// AvgPool2d(3, stride 2, padding 1, count_include_pad=False): the input pyramid of the local enhancer and the
/// multiscale discriminator.
pub fn downsample(x: &Tensor) -> Tensor {
    x.avg_pool2d([3, 3], [2, 2], [1, 1], false, false, None)
}

/// ResnetBlock(dim, 'reflect'): `x + [pad1, conv3, norm, ReLU, pad1, conv3, norm](x)`, nothing after the sum.
/// The convs sit at `conv_block.1` and `conv_block.5`, as in the reference state dict.
#[derive(Debug)]
pub struct ResnetBlock {
    conv1: nn::Conv2D,
    conv2: nn::Conv2D,
}

impl ResnetBlock {
    pub fn new(p: nn::Path, dim: i64) -> Self {
        let cb = &p / "conv_block";
        Self { conv1: conv2d(&cb / 1, dim, dim, 3, 1, 0), conv2: conv2d(&cb / 5, dim, dim, 3, 1, 0) }
    }

    /// `forward` with the norms' statistics from `norms`.
    pub fn forward_with(&self, x: &Tensor, norms: &mut Norms) -> Tensor {
        let h = conv_norm_relu_with(&self.conv1, &reflect_pad(x, 1), norms);
        let h = norms.apply(&self.conv2.forward(&reflect_pad(&h, 1)));
        h + x
    }
}

impl ResnetBlock {
    /// The fast path's block (`super::fast`): `x` is the channels-last input reflection-padded by 1 (what conv1
    /// reads; its interior is the residual), the result is reflection-padded by `out_pad` for the next layer.
    pub fn forward_fast(&self, x: &Tensor, out_pad: i64) -> Tensor {
        let h = super::fast::norm_act(&self.conv1.forward(x), None, true, 1);
        super::fast::norm_act(&self.conv2.forward(&h), Some((x, 1)), false, out_pad)
    }
}

impl Module for ResnetBlock {
    fn forward(&self, x: &Tensor) -> Tensor {
        let h = conv_norm_relu(&self.conv1, &reflect_pad(x, 1));
        let h = instance_norm(&self.conv2.forward(&reflect_pad(&h, 1)));
        h + x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    /// A crop normalised with its frame's recorded statistics: the frame's values, and the gradient of a norm over
    /// the crop itself, so a shift of a whole channel (which any instance norm undoes) gets no gradient.
    #[test]
    fn replayed_norms_give_the_frames_values_and_the_own_norms_gradient() {
        let frame = crate::model::with_seed(2, || Tensor::randn([1, 3, 16, 16], (Kind::Float, Device::Cpu)));
        let mut stats = Vec::new();
        let whole = Norms::Record(&mut stats).apply(&frame);
        assert!(whole.allclose(&instance_norm(&frame), 1e-6, 1e-6, false));
        let crop = frame.narrow(2, 4, 8).narrow(3, 4, 8).detach().set_requires_grad(true);
        let y = Norms::Replay(stats.iter()).apply(&crop);
        assert!(y.allclose(&whole.narrow(2, 4, 8).narrow(3, 4, 8), 1e-5, 1e-5, false));

        let weights = crate::model::with_seed(3, || Tensor::randn([1, 3, 8, 8], (Kind::Float, Device::Cpu)));
        (&y * &weights).sum(Kind::Float).backward();
        let own = crop.detach().set_requires_grad(true);
        (instance_norm(&own) * &weights).sum(Kind::Float).backward();
        assert!(crop.grad().allclose(&own.grad(), 1e-5, 1e-6, false));
        let per_channel = crop.grad().sum_dim_intlist([2i64, 3].as_slice(), false, Kind::Float);
        assert!(per_channel.abs().max().double_value(&[]) < 1e-4, "a channel's mean shift is normalised away");
    }
}

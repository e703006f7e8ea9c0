//! The frozen VGG19 feature extractor behind pix2pixHD's perceptual loss.
//!
//! The layout is torchvision's `vgg19().features` (keys `features.{idx}.weight/bias`), so the weights are read from
//! torchvision's own state dict, supplied by the user (nothing is downloaded). The loss taps the ReLU outputs
//! relu1_1, relu2_1, relu3_1, relu4_1 and relu5_1 (slices [0,2), [2,7), [7,12), [12,21), [21,30)).

use super::checkpoint::{self, CheckpointError};
use std::path::Path;
use tch::nn::{self, Module};
use tch::{Device, Tensor};

/// Output channels per conv, `None` for a 2×2 max pool: torchvision's configuration "E".
const LAYOUT: [Option<i64>; 21] = [
    Some(64),
    Some(64),
    None,
    Some(128),
    Some(128),
    None,
    Some(256),
    Some(256),
    Some(256),
    Some(256),
    None,
    Some(512),
    Some(512),
    Some(512),
    Some(512),
    None,
    Some(512),
    Some(512),
    Some(512),
    Some(512),
    None,
];

/// The `features` index after which each tapped slice ends (the ReLU that closes it).
const TAPS: [i64; 5] = [1, 6, 11, 20, 29];

#[derive(Debug)]
enum Layer {
    Conv(nn::Conv2D),
    Pool,
}

pub struct Vgg19 {
    vs: nn::VarStore,
    /// (features index of the conv or pool, layer); each conv is followed by a ReLU at index + 1.
    layers: Vec<(i64, Layer)>,
}

impl std::fmt::Debug for Vgg19 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vgg19").field("layers", &self.layers.len()).finish()
    }
}

impl Vgg19 {
    /// An unloaded VGG19 (random weights, drawn under `with_seed` so that they never take numbers from another
    /// thread's seeded initialisation); `load` fills it.
    pub fn new(device: Device) -> Self {
        super::with_seed(0, || Self::build(device))
    }

    fn build(device: Device) -> Self {
        let vs = nn::VarStore::new(device);
        let p = vs.root() / "features";
        let mut layers = Vec::new();
        let (mut idx, mut c_in) = (0i64, 3i64);
        for l in LAYOUT {
            match l {
                Some(c_out) => {
                    let conv =
                        nn::conv2d(&p / idx, c_in, c_out, 3, nn::ConvConfig { padding: 1, ..Default::default() });
                    layers.push((idx, Layer::Conv(conv)));
                    c_in = c_out;
                    idx += 2;
                }
                None => {
                    layers.push((idx, Layer::Pool));
                    idx += 1;
                }
            }
        }
        Self { vs, layers }
    }

    /// Reads torchvision VGG19 weights (`vgg19-dcbb9e9d.pth` converted to zip format or safetensors); the
    /// classifier's keys are ignored, every `features.*` key must fit. The network is frozen afterwards.
    pub fn load(path: &Path, device: Device) -> Result<Self, CheckpointError> {
        let mut vgg = Self::new(device);
        checkpoint::load_var_store(&vgg.vs, path, |k| k.starts_with("classifier."))?;
        vgg.vs.freeze();
        Ok(vgg)
    }

    pub fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    /// The five tapped activations relu1_1 .. relu5_1 for images in [-1, 1] (no ImageNet normalisation, as the
    /// reference does).
    pub fn slices(&self, x: &Tensor) -> Vec<Tensor> {
        let mut outs = Vec::with_capacity(TAPS.len());
        let mut h = x.shallow_clone();
        for (idx, layer) in &self.layers {
            if outs.len() == TAPS.len() {
                break;
            }
            match layer {
                Layer::Conv(c) => {
                    h = c.forward(&h).relu_();
                    if TAPS.contains(&(idx + 1)) {
                        outs.push(h.shallow_clone());
                    }
                }
                Layer::Pool => h = h.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false),
            }
        }
        outs
    }
}

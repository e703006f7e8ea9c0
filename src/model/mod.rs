//! The pix2pixHD networks (G, D, E, VGG19), losses and weight files, on LibTorch through `tch`.

pub mod checkpoint;
pub mod config;
pub mod discriminator;
pub mod encoder;
pub mod generator;
pub mod layers;
pub mod loss;
pub mod runtime;
pub mod torch_pickle;
pub mod vgg;

pub use config::{ModelConfig, NetG, Preset};

/// Number of scalar parameters in a var store.
pub fn param_count(vs: &tch::nn::VarStore) -> i64 {
    vs.variables().values().map(|t| t.numel() as i64).sum()
}

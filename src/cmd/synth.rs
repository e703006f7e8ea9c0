//! `pix2pixhd synth`: write a synthetic street-scene data set.

pub use crate::data::synth::{SynthArgs, run};

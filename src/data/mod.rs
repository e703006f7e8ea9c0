//! Data sets: the synthetic street-scene generator, and (later) readers for pix2pixHD and Cityscapes folders.
pub mod synth;

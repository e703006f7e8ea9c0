//! Measuring a model on held-out scenes: the model card's figures (`model`) and style control against the known
//! colour modes of synthetic data (`styles`).

pub mod model;
pub mod styles;

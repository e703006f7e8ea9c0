//! pix2pixhd: the pix2pixHD networks (Wang et al., CVPR 2018) in Rust on LibTorch, and the tools around them: the
//! scene editor, data, training, style clusters, rendering, evaluation and benchmarks. ARCHITECTURE.md maps the
//! modules and what each may use.

pub mod app;
pub mod bench;
pub mod cmd;
pub mod data;
pub mod eval;
pub mod features;
pub mod fs;
pub mod labels;
pub mod model;
pub mod render;
pub mod scene;
pub mod synth;
pub mod train;

//! pix2pixhd: the pix2pixHD networks (Wang et al., CVPR 2018) in Rust on LibTorch, and the tools around them.

pub mod amp;
pub mod app;
pub mod bench;
pub mod cli;
pub mod data;
pub mod encode_cmd;
pub mod eval_model;
pub mod eval_styles;
pub mod features;
pub mod fs;
pub mod labels;
pub mod model;
pub mod render;
pub mod render_cmd;
pub mod scene;
pub mod torch_info;
pub mod train;

//! pix2pixhd: the pix2pixHD networks (Wang et al., CVPR 2018) in Rust on LibTorch, and the tools around them.
pub mod data;
pub mod labels;

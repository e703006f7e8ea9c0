//! Training pix2pixHD: the networks and one step (`nets`), Adam with saveable state (`adam`), the image history
//! pool (`pool`), logs and sample pages (`report`).

pub mod adam;
pub mod nets;
pub mod pool;
pub mod report;
pub mod run;

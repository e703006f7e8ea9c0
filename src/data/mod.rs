//! Data: data sets on disk, the training transforms, background batch loading, and turning label and instance maps
//! into network input.

pub mod dataset;
pub mod encode;
pub mod loader;
pub mod rng;
pub mod sample;
pub mod transform;

pub use dataset::{DataError, Dataset, DatasetOpts, Entry, Layout, Sample};
pub use loader::{Batch, Epoch, Loader, WholeFrames};
pub use transform::{Mode, Params, TransformOpts};

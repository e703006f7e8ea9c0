//! One sample of a data set in memory: the type the data set reads and the transforms change.

/// One sample in memory, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub width: usize,
    pub height: usize,
    /// Class ids, one byte per pixel.
    pub label: Vec<u8>,
    /// Raw instance ids (Cityscapes: class·1000 + k for objects, the class id elsewhere); absent with no_instance.
    pub inst: Option<Vec<u32>>,
    /// RGB, 3 bytes per pixel; absent when the set has no photos.
    pub image: Option<Vec<u8>>,
}

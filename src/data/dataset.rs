//! Training and test sets on disk: pix2pixHD's folders and Cityscapes' own layout, read into plain [`Sample`]s.
//!
//! pix2pixHD layout: `<root>/<phase>_label/` (8-bit class ids), `<phase>_inst/` (16-bit instance ids) and
//! `<phase>_img/` (RGB photos). The reference pairs the three by position in sorted order; here they are paired by
//! name, which is the same thing on a consistent set, and a file without a partner is an error instead of a silent
//! shift of every later pair. Names are compared with Cityscapes' suffixes (`_gtFine_labelIds`,
//! `_gtFine_instanceIds`, `_leftImg8bit`) removed, because pix2pixHD's bundled Cityscapes folders keep them.
//!
//! Cityscapes layout: `<root>/gtFine/<split>/<city>/<stem>_gtFine_labelIds.png` with `_gtFine_instanceIds.png`
//! beside it and the photo in `<root>/leftImg8bit/<split>/<city>/<stem>_leftImg8bit.png`.
//!
//! Every file is checked when it is read: bit depth and colour type, equal sizes, class ids below `label_nc`. The
//! errors name the file, so a bad file in a set of thousands can be found.

use super::encode::check_classes;
pub use super::sample::Sample;
use super::transform::TransformError;
use crate::model::ModelConfig;
use image::DynamicImage;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where the files of a data set are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// Folders if `<root>/<phase>_label` exists, else Cityscapes if `<root>/gtFine` does.
    Auto,
    Folders,
    Cityscapes,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetOpts {
    /// Class ids must be below this (`--label_nc`).
    pub label_nc: i64,
    /// Do not read instance maps (`--no_instance`); the set then needs none.
    pub no_instance: bool,
    /// Require a photo for every label map (training). Without it photos are read where the set has them.
    pub need_images: bool,
    /// Use only the first this many samples in name order (`--max_dataset_size`).
    pub max_dataset_size: Option<usize>,
}

impl Default for DatasetOpts {
    fn default() -> Self {
        Self { label_nc: 35, no_instance: false, need_images: true, max_dataset_size: None }
    }
}

impl DatasetOpts {
    /// The options a model's config implies, for training (photos required).
    pub fn for_model(cfg: &ModelConfig) -> Self {
        Self { label_nc: cfg.label_nc, no_instance: cfg.no_instance, ..Self::default() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(
        "no data set in {}: expected {}/{phase}_label/ (pix2pixHD layout) or {}/gtFine/{phase}/ (Cityscapes layout)",
        root.display(), root.display(), root.display()
    )]
    NoDataset { root: PathBuf, phase: String },
    #[error("{what} folder {} does not exist{hint}", dir.display())]
    MissingDir { dir: PathBuf, what: &'static str, hint: &'static str },
    #[error("cannot list {}: {source}", dir.display())]
    ReadDir { dir: PathBuf, source: std::io::Error },
    #[error("no {what} in {}", dir.display())]
    Empty { dir: PathBuf, what: &'static str },
    #[error("{} and {} have the same name once suffixes are removed; which one pairs with the label map is ambiguous",
        first.display(), second.display())]
    DuplicateName { first: PathBuf, second: PathBuf },
    #[error("{} has no {what}: expected {}", file.display(), expected.display())]
    MissingPartner { file: PathBuf, what: &'static str, expected: PathBuf },
    #[error("{} has no {what} in {} (looked for the name {name:?}, ignoring extension and Cityscapes suffixes)",
        file.display(), dir.display())]
    Unpaired { file: PathBuf, what: &'static str, dir: PathBuf, name: String },
    #[error("cannot read {}: {source}", file.display())]
    Decode { file: PathBuf, source: image::ImageError },
    #[error("{}: {got} PNG where {expected} was expected", file.display())]
    Format { file: PathBuf, got: PixelFormat, expected: &'static str },
    #[error("{} is {}×{} but its label map {} is {}×{}; they must be the same size",
        file.display(), size.0, size.1, label.display(), label_size.0, label_size.1)]
    SizeMismatch { file: PathBuf, size: (usize, usize), label: PathBuf, label_size: (usize, usize) },
    #[error("{}: class id {id} at pixel (x {x}, y {y}) is not below label_nc {label_nc}", file.display())]
    ClassOutOfRange { file: PathBuf, id: u8, x: usize, y: usize, label_nc: i64 },
    #[error("{}: {source}", file.display())]
    Transform { file: PathBuf, source: TransformError },
    #[error("{} comes out {}×{} and {} {}×{}; one batch needs equal sizes (use a crop mode or batch size 1)",
        first.display(), first_size.0, first_size.1, other.display(), other_size.0, other_size.1)]
    BatchSizes { first: PathBuf, first_size: (usize, usize), other: PathBuf, other_size: (usize, usize) },
    #[error("{}: {source}", file.display())]
    Encode { file: PathBuf, source: super::encode::EncodeError },
    #[error("label_nc 0 (RGB input maps in {phase}_A/{phase}_B) is not supported by the data loader")]
    RgbInput { phase: String },
    #[error("invalid data loader option: {0}")]
    InvalidOption(String),
    #[error("cannot start a data loader thread: {source}")]
    Thread { source: std::io::Error },
    #[error("a data loader thread stopped while building batch {batch} (a bug: it panicked)")]
    WorkerStopped { batch: usize },
}

/// A decoded PNG's pixel format, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelFormat {
    pub bits: u8,
    pub color: &'static str,
}

impl fmt::Display for PixelFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {}-bit {}", self.bits, self.color)
    }
}

fn pixel_format(img: &DynamicImage) -> PixelFormat {
    let t = img.color();
    let bits = (t.bits_per_pixel() / u16::from(t.channel_count())) as u8;
    let color = match t.channel_count() {
        1 => "grayscale",
        2 => "grayscale+alpha",
        3 => "RGB",
        _ => "RGBA",
    };
    PixelFormat { bits, color }
}

/// One sample's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The label file's path under the label folder, without extension and Cityscapes suffix (`city/stem`).
    pub name: String,
    pub label: PathBuf,
    pub inst: Option<PathBuf>,
    pub image: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Dataset {
    layout: Layout,
    opts: DatasetOpts,
    entries: Vec<Entry>,
}

/// The reference's IMG_EXTENSIONS: files with these are listed (and a non-PNG one then fails to decode with its
/// name in the error), everything else in the folders is ignored.
const IMAGE_EXTENSIONS: [&str; 7] = ["png", "jpg", "jpeg", "ppm", "bmp", "tif", "tiff"];
const CITYSCAPES_SUFFIXES: [&str; 3] = ["_gtFine_labelIds", "_gtFine_instanceIds", "_leftImg8bit"];

/// Every file under `dir`, recursively, sorted. Hidden files are skipped: they include macOS' "._x.png" resource
/// forks, which are not images.
fn walk(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(|source| DataError::ReadDir { dir: d.clone(), source })?;
        for e in rd {
            let path = e.map_err(|source| DataError::ReadDir { dir: d.clone(), source })?.path();
            if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')) {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Image files under `dir`, recursively, keyed by their relative path without extension or Cityscapes suffix.
fn list_images(dir: &Path) -> Result<BTreeMap<String, PathBuf>, DataError> {
    let mut out = BTreeMap::new();
    for path in walk(dir)? {
        let is_image = path
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| IMAGE_EXTENSIONS.contains(&x.to_ascii_lowercase().as_str()));
        if !is_image {
            continue;
        }
        let rel = path.strip_prefix(dir).unwrap_or(&path).with_extension("");
        let mut key = rel.to_string_lossy().replace('\\', "/");
        if let Some(s) = CITYSCAPES_SUFFIXES.iter().find(|s| key.ends_with(*s)) {
            key.truncate(key.len() - s.len());
        }
        // walk() sorts, so `first` is the earlier name.
        if let Some(first) = out.insert(key, path.clone()) {
            return Err(DataError::DuplicateName { first, second: path });
        }
    }
    Ok(out)
}

impl Dataset {
    /// Finds and pairs the files of `phase` ("train", "test"; for Cityscapes the split: "train", "val", "test").
    /// Files are not decoded here; [`Dataset::load`] does that, so opening a large set is quick.
    pub fn open(root: &Path, phase: &str, layout: Layout, opts: DatasetOpts) -> Result<Self, DataError> {
        if opts.label_nc == 0 {
            return Err(DataError::RgbInput { phase: phase.to_string() });
        }
        let layout = match layout {
            Layout::Auto if root.join(format!("{phase}_label")).is_dir() => Layout::Folders,
            Layout::Auto if root.join("gtFine").is_dir() => Layout::Cityscapes,
            Layout::Auto => return Err(DataError::NoDataset { root: root.to_path_buf(), phase: phase.to_string() }),
            l => l,
        };
        let mut entries = match layout {
            Layout::Cityscapes => Self::cityscapes(root, phase, &opts)?,
            _ => Self::folders(root, phase, &opts)?,
        };
        if let Some(n) = opts.max_dataset_size {
            entries.truncate(n);
        }
        Ok(Self { layout, opts, entries })
    }

    fn folders(root: &Path, phase: &str, opts: &DatasetOpts) -> Result<Vec<Entry>, DataError> {
        let label_dir = root.join(format!("{phase}_label"));
        let inst_dir = root.join(format!("{phase}_inst"));
        let img_dir = root.join(format!("{phase}_img"));
        if !label_dir.is_dir() {
            return Err(DataError::MissingDir { dir: label_dir, what: "label map", hint: "" });
        }
        let labels = list_images(&label_dir)?;
        if labels.is_empty() {
            return Err(DataError::Empty { dir: label_dir, what: "label maps" });
        }
        let insts = if opts.no_instance {
            None
        } else if inst_dir.is_dir() {
            Some(list_images(&inst_dir)?)
        } else {
            return Err(DataError::MissingDir {
                dir: inst_dir,
                what: "instance map",
                hint: " (the model uses instance boundaries; without instance maps, use --no-instance)",
            });
        };
        let imgs = if img_dir.is_dir() {
            Some(list_images(&img_dir)?)
        } else if opts.need_images {
            return Err(DataError::MissingDir {
                dir: img_dir,
                what: "photo",
                hint: " (training needs the real photos)",
            });
        } else {
            None
        };
        let partner = |set: &Option<BTreeMap<String, PathBuf>>, dir: &Path, key: &str, label: &Path, what| {
            let Some(set) = set else { return Ok(None) };
            match set.get(key) {
                Some(p) => Ok(Some(p.clone())),
                None => Err(DataError::Unpaired {
                    file: label.to_path_buf(),
                    what,
                    dir: dir.to_path_buf(),
                    name: key.to_string(),
                }),
            }
        };
        let mut entries = Vec::with_capacity(labels.len());
        for (key, label) in &labels {
            let inst = partner(&insts, &inst_dir, key, label, "instance map")?;
            let image = partner(&imgs, &img_dir, key, label, "photo")?;
            entries.push(Entry { name: key.clone(), label: label.clone(), inst, image });
        }
        // Extra instance maps or photos mean the folders are out of step; the reference would pair them by
        // position and train on wrong pairs, so they are refused too.
        for set in [&insts, &imgs].into_iter().flatten() {
            if let Some((key, file)) = set.iter().find(|(k, _)| !labels.contains_key(*k)) {
                return Err(DataError::Unpaired {
                    file: file.clone(),
                    what: "label map",
                    dir: label_dir,
                    name: key.clone(),
                });
            }
        }
        Ok(entries)
    }

    fn cityscapes(root: &Path, split: &str, opts: &DatasetOpts) -> Result<Vec<Entry>, DataError> {
        let label_dir = root.join("gtFine").join(split);
        let img_dir = root.join("leftImg8bit").join(split);
        if !label_dir.is_dir() {
            return Err(DataError::MissingDir { dir: label_dir, what: "Cityscapes label (gtFine split)", hint: "" });
        }
        const LABEL: &str = "_gtFine_labelIds.png";
        let mut entries = Vec::new();
        // The gtFine folders also hold colour, instance and polygon files; the labelIds files define the set.
        let all: Vec<PathBuf> = walk(&label_dir)?
            .into_iter()
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(LABEL)))
            .collect();
        if all.is_empty() {
            return Err(DataError::Empty { dir: label_dir, what: "label maps (*_gtFine_labelIds.png)" });
        }
        let have_images = img_dir.is_dir();
        if opts.need_images && !have_images {
            return Err(DataError::MissingDir {
                dir: img_dir,
                what: "Cityscapes photo (leftImg8bit split)",
                hint: " (training needs the real photos)",
            });
        }
        for label in all {
            let file_name = label.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let stem = &file_name[..file_name.len() - LABEL.len()];
            let rel_dir = label.parent().and_then(|d| d.strip_prefix(&label_dir).ok()).unwrap_or(Path::new(""));
            let need = |p: PathBuf, what| {
                if p.is_file() {
                    Ok(p)
                } else {
                    Err(DataError::MissingPartner { file: label.clone(), what, expected: p })
                }
            };
            let inst = if opts.no_instance {
                None
            } else {
                Some(need(label.with_file_name(format!("{stem}_gtFine_instanceIds.png")), "instance map")?)
            };
            let image = if have_images {
                Some(need(img_dir.join(rel_dir).join(format!("{stem}_leftImg8bit.png")), "photo")?)
            } else {
                None
            };
            let name = rel_dir.join(stem).to_string_lossy().replace('\\', "/");
            entries.push(Entry { name, label, inst, image });
        }
        Ok(entries)
    }

    /// The layout that was found (never `Auto`).
    pub fn layout(&self) -> Layout {
        self.layout
    }

    pub fn opts(&self) -> &DatasetOpts {
        &self.opts
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether samples come with photos.
    pub fn has_images(&self) -> bool {
        self.entries.first().is_some_and(|e| e.image.is_some())
    }

    /// Decodes and checks sample `i` (panics if `i >= len()`, like slice indexing).
    pub fn load(&self, i: usize) -> Result<Sample, DataError> {
        let e = &self.entries[i];
        let img = decode(&e.label)?;
        let (width, height) = (img.width() as usize, img.height() as usize);
        let label = match img {
            DynamicImage::ImageLuma8(b) => b.into_raw(),
            other => {
                return Err(DataError::Format {
                    file: e.label.clone(),
                    got: pixel_format(&other),
                    expected: "an 8-bit grayscale label map (one class id per pixel)",
                });
            }
        };
        if let Err(super::encode::EncodeError::ClassOutOfRange { id, x, y, label_nc }) =
            check_classes(&label, width, self.opts.label_nc)
        {
            return Err(DataError::ClassOutOfRange { file: e.label.clone(), id, x, y, label_nc });
        }
        let same_size = |file: &Path, img: &DynamicImage| {
            let size = (img.width() as usize, img.height() as usize);
            if size == (width, height) {
                Ok(())
            } else {
                Err(DataError::SizeMismatch {
                    file: file.to_path_buf(),
                    size,
                    label: e.label.clone(),
                    label_size: (width, height),
                })
            }
        };
        let inst = match &e.inst {
            None => None,
            Some(path) => {
                let img = decode(path)?;
                same_size(path, &img)?;
                Some(match img {
                    DynamicImage::ImageLuma16(b) => b.into_raw().into_iter().map(u32::from).collect(),
                    // 8-bit instance maps hold ids below 256; simple data sets use them.
                    DynamicImage::ImageLuma8(b) => b.into_raw().into_iter().map(u32::from).collect(),
                    other => {
                        return Err(DataError::Format {
                            file: path.clone(),
                            got: pixel_format(&other),
                            expected: "a 16-bit (or 8-bit) grayscale instance map",
                        });
                    }
                })
            }
        };
        let image = match &e.image {
            None => None,
            Some(path) => {
                let img = decode(path)?;
                same_size(path, &img)?;
                Some(match img {
                    DynamicImage::ImageRgb8(b) => b.into_raw(),
                    // The reference converts every photo to RGB: alpha is dropped, gray is repeated.
                    DynamicImage::ImageRgba8(_) | DynamicImage::ImageLuma8(_) | DynamicImage::ImageLumaA8(_) => {
                        img.to_rgb8().into_raw()
                    }
                    other => {
                        return Err(DataError::Format {
                            file: path.clone(),
                            got: pixel_format(&other),
                            expected: "an 8-bit RGB photo",
                        });
                    }
                })
            }
        };
        Ok(Sample { name: e.name.clone(), width, height, label, inst, image })
    }
}

fn decode(path: &Path) -> Result<DynamicImage, DataError> {
    let err = |source| DataError::Decode { file: path.to_path_buf(), source };
    crate::fs::check_regular(path).map_err(|e| err(image::ImageError::IoError(e)))?;
    image::ImageReader::open(path)
        .map_err(|e| err(image::ImageError::IoError(e)))?
        .with_guessed_format()
        .map_err(|e| err(image::ImageError::IoError(e)))?
        .decode()
        .map_err(err)
}

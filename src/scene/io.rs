//! Scene files: label maps (8-bit grey PNG of class ids, or Cityscapes colours), instance maps (16-bit grey PNG),
//! and the scene JSON that holds both (as paths beside it or embedded) with every style choice.
//!
//! Scene JSON, version 1:
//! ```json
//! { "version": 1, "width": 2048, "height": 1024,
//!   "label": { "path": "street_labelIds.png" },            // or { "png_base64": "iVBORw0..." }
//!   "instance": { "path": "street_instanceIds.png" },      // optional: derived from the label map when absent
//!   "styles": { "26000": { "cluster": 3 }, "7": "random" } }
//! ```
//! Relative paths are resolved against the JSON's folder. Every file is written atomically (a temporary file in the
//! same folder, then a rename), so a crash never leaves half a scene.

use super::{MapError, Scene, StyleChoice, is_style_key};
use crate::fs::write_bytes;
use crate::labels;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use image::{ColorType, DynamicImage, ImageBuffer, ImageFormat, Luma};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The scene JSON format this code writes and reads.
pub const SCENE_FORMAT_VERSION: u32 = 1;

/// Where [`Scene::save_json`] puts the maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapStorage {
    /// Inside the JSON as base64 PNGs: one self-contained file.
    Embedded,
    /// As `<stem>_labelIds.png` and `<stem>_instanceIds.png` next to `<stem>.json`, which names them; the PNGs open
    /// on their own too, and pair up by name.
    Beside,
}

/// Why a scene file could not be read or written. Each names the file and what was expected of it.
#[derive(Debug, Error)]
pub enum SceneError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Write(#[from] crate::fs::WriteError),
    #[error("{} is not a readable PNG image: {source}", path.display())]
    Decode { path: PathBuf, source: image::ImageError },
    #[error("cannot encode {} as PNG: {source}", path.display())]
    Encode { path: PathBuf, source: image::ImageError },
    #[error("{}: the label map is {found}; expected 8-bit grey class ids (or Cityscapes colours){hint}", path.display())]
    LabelFormat { path: PathBuf, found: String, hint: &'static str },
    #[error("{}: the instance map is {found}; expected 16-bit grey instance ids (8-bit grey also reads)", path.display())]
    InstanceFormat { path: PathBuf, found: String },
    #[error(
        "{}: colour ({}, {}, {}) at pixel ({x}, {y}) is not a Cityscapes label colour",
        path.display(), rgb[0], rgb[1], rgb[2]
    )]
    UnknownColor { path: PathBuf, rgb: [u8; 3], x: u32, y: u32 },
    #[error(
        "the label map {} is {}×{} but the instance map {} is {}×{}; they must be the same size",
        label_path.display(), label_size.0, label_size.1, inst_path.display(), inst_size.0, inst_size.1
    )]
    SizeMismatch { label_path: PathBuf, label_size: (u32, u32), inst_path: PathBuf, inst_size: (u32, u32) },
    #[error("{}: {source}", path.display())]
    Invalid { path: PathBuf, source: MapError },
    #[error("{}: instance id {id} at pixel ({x}, {y}) does not fit a 16-bit instance PNG (at most 65535)", path.display())]
    IdTooLarge { path: PathBuf, id: u32, x: u32, y: u32 },
    #[error("{} is not a valid scene file: {source}", path.display())]
    Json { path: PathBuf, source: serde_json::Error },
    #[error(
        "{} has scene format version {found}; this program reads version {SCENE_FORMAT_VERSION}{}",
        path.display(), if *found > SCENE_FORMAT_VERSION { " (the file is from a newer pix2pixhd)" } else { "" }
    )]
    Version { path: PathBuf, found: u32 },
    #[error("{}: the embedded {field} map is not valid base64: {source}", path.display())]
    Base64 { path: PathBuf, field: &'static str, source: base64::DecodeError },
    #[error(
        "{}: the {field} map is {}×{} but the scene says {}×{}",
        path.display(), found.0, found.1, declared.0, declared.1
    )]
    SceneSize { path: PathBuf, field: &'static str, found: (u32, u32), declared: (u32, u32) },
    #[error(
        "{}: style key {key} is neither a class id (0..=33) nor an instance id of an instance class \
         (24000..=33999)", path.display()
    )]
    StyleKey { path: PathBuf, key: u32 },
    #[error("{}: expected a scene .json or a label .png", path.display())]
    UnknownKind { path: PathBuf },
    #[error("{}: a scene saved with its maps beside it needs a UTF-8 file name to name them after", path.display())]
    NoFileName { path: PathBuf },
    #[error("in scene {}: {source}", json.display())]
    InScene { json: PathBuf, source: Box<SceneError> },
}

#[derive(Serialize, Deserialize)]
struct SceneFile {
    version: u32,
    width: u32,
    height: u32,
    label: MapRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    instance: Option<MapRef>,
    #[serde(default)]
    styles: BTreeMap<u32, StyleChoice>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum MapRef {
    Path(String),
    PngBase64(String),
}

/// Read first, on its own, so that a newer file gets "newer version" rather than a confusing field error.
#[derive(Deserialize)]
struct VersionProbe {
    version: u32,
}

/// The instance map that goes with a label map, found by name: Cityscapes' `*_gtFine_labelIds.png` (or
/// `*_gtFine_color.png`) pairs with `*_gtFine_instanceIds.png` in the same folder (any `*labelIds.png` name does,
/// which covers the maps [`MapStorage::Beside`] writes), and pix2pixHD's `<phase>_label/<name>` pairs with
/// `<phase>_inst/<name>`. `None` when no such file exists.
pub fn find_instance_png(label: &Path) -> Option<PathBuf> {
    let name = label.file_name()?.to_str()?;
    for suffix in ["labelIds.png", "color.png"] {
        if let Some(prefix) = name.strip_suffix(suffix) {
            let candidate = label.with_file_name(format!("{prefix}instanceIds.png"));
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    let dir = label.parent()?;
    let phase = dir.file_name()?.to_str()?.strip_suffix("_label")?;
    let candidate = dir.with_file_name(format!("{phase}_inst")).join(name);
    candidate.is_file().then_some(candidate)
}

impl Scene {
    /// Opens what the user picked: a scene `.json`, or a label `.png` (with its instance map when one is found by
    /// name, see [`find_instance_png`]; derived otherwise).
    pub fn open(path: &Path) -> Result<Scene, SceneError> {
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("json") => Scene::load_json(path),
            Some("png") => Scene::open_label_png(path, None),
            _ => Err(SceneError::UnknownKind { path: path.to_path_buf() }),
        }
    }

    /// A scene from a label PNG and an instance PNG. Without `inst`, the instance map is looked for by name
    /// ([`find_instance_png`]), and derived from the label map ([`Scene::derive_instances`]) when there is none.
    pub fn open_label_png(label: &Path, inst: Option<&Path>) -> Result<Scene, SceneError> {
        let found = match inst {
            Some(p) => Some(p.to_path_buf()),
            None => find_instance_png(label),
        };
        let (width, height, label_map) = decode_label(&read(label)?, label)?;
        let inst_map = match &found {
            Some(p) => {
                let (w, h, map) = decode_instance(&read(p)?, p)?;
                if (w, h) != (width, height) {
                    return Err(SceneError::SizeMismatch {
                        label_path: label.to_path_buf(),
                        label_size: (width, height),
                        inst_path: p.clone(),
                        inst_size: (w, h),
                    });
                }
                Some(map)
            }
            None => None,
        };
        // The label ids are already checked, so what is left to fail is the instance map (or deriving one).
        Scene::from_maps(width, height, label_map, inst_map)
            .map_err(|source| SceneError::Invalid { path: found.unwrap_or_else(|| label.to_path_buf()), source })
    }

    /// Reads a scene JSON (see the module docs for the format).
    pub fn load_json(path: &Path) -> Result<Scene, SceneError> {
        let text = crate::fs::read_to_string(path).map_err(|source| SceneError::Read { path: path.into(), source })?;
        if let Ok(probe) = serde_json::from_str::<VersionProbe>(&text)
            && probe.version != SCENE_FORMAT_VERSION
        {
            return Err(SceneError::Version { path: path.into(), found: probe.version });
        }
        let file: SceneFile =
            serde_json::from_str(&text).map_err(|source| SceneError::Json { path: path.into(), source })?;
        let declared = (file.width, file.height);
        let dir = path.parent().unwrap_or(Path::new(""));

        let (label_origin, label_bytes) = map_bytes(&file.label, path, dir, "label")?;
        let (w, h, label) = decode_label(&label_bytes, &label_origin).map_err(|e| in_scene(e, path, &file.label))?;
        if (w, h) != declared {
            return Err(SceneError::SceneSize { path: path.into(), field: "label", found: (w, h), declared });
        }
        let mut inst_origin = None;
        let inst = match &file.instance {
            Some(map) => {
                let (origin, bytes) = map_bytes(map, path, dir, "instance")?;
                let (w, h, inst) = decode_instance(&bytes, &origin).map_err(|e| in_scene(e, path, map))?;
                if (w, h) != declared {
                    return Err(SceneError::SceneSize {
                        path: path.into(),
                        field: "instance",
                        found: (w, h),
                        declared,
                    });
                }
                inst_origin = Some(origin);
                Some(inst)
            }
            None => None,
        };
        let mut scene = Scene::from_maps(w, h, label, inst).map_err(|source| SceneError::Invalid {
            path: inst_origin.unwrap_or_else(|| path.to_path_buf()),
            source,
        })?;
        if let Some(&key) = file.styles.keys().find(|&&k| !is_style_key(k)) {
            return Err(SceneError::StyleKey { path: path.into(), key });
        }
        scene.styles = file.styles;
        Ok(scene)
    }

    /// Writes the scene JSON, and with [`MapStorage::Beside`] its two map PNGs (those first, so the JSON never names
    /// a file that is not there yet). Styles of objects no longer in the maps are left out; stuff class styles stay.
    pub fn save_json(&self, path: &Path, storage: MapStorage) -> Result<(), SceneError> {
        let label_png = self.label_png(path)?;
        let inst_png = self.instance_png(path)?;
        let (label, instance) = match storage {
            MapStorage::Embedded => {
                (MapRef::PngBase64(BASE64.encode(label_png)), MapRef::PngBase64(BASE64.encode(inst_png)))
            }
            MapStorage::Beside => {
                let stem = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .ok_or_else(|| SceneError::NoFileName { path: path.into() })?;
                let (label_name, inst_name) = (format!("{stem}_labelIds.png"), format!("{stem}_instanceIds.png"));
                write_bytes(&path.with_file_name(&label_name), &label_png)?;
                write_bytes(&path.with_file_name(&inst_name), &inst_png)?;
                (MapRef::Path(label_name), MapRef::Path(inst_name))
            }
        };
        let live: BTreeSet<u32> = self.inst.iter().copied().filter(|&v| labels::is_object(v)).collect();
        let styles =
            self.styles.iter().filter(|(k, _)| !labels::is_object(**k) || live.contains(k)).map(|(k, v)| (*k, *v));
        let file = SceneFile {
            version: SCENE_FORMAT_VERSION,
            width: self.width,
            height: self.height,
            label,
            instance: Some(instance),
            styles: styles.collect(),
        };
        let mut text =
            serde_json::to_string_pretty(&file).map_err(|source| SceneError::Json { path: path.into(), source })?;
        text.push('\n');
        Ok(write_bytes(path, text.as_bytes())?)
    }

    /// Exports the label map: an 8-bit grey PNG of class ids, as Cityscapes' `*_labelIds.png`.
    pub fn save_label_png(&self, path: &Path) -> Result<(), SceneError> {
        Ok(write_bytes(path, &self.label_png(path)?)?)
    }

    /// Exports the instance map: a 16-bit grey PNG, as Cityscapes' `*_instanceIds.png`.
    pub fn save_instance_png(&self, path: &Path) -> Result<(), SceneError> {
        Ok(write_bytes(path, &self.instance_png(path)?)?)
    }

    /// `path` is only for error messages.
    fn label_png(&self, path: &Path) -> Result<Vec<u8>, SceneError> {
        let img = ImageBuffer::<Luma<u8>, _>::from_raw(self.width, self.height, self.label.clone());
        encode(img.map(DynamicImage::ImageLuma8), path)
    }

    fn instance_png(&self, path: &Path) -> Result<Vec<u8>, SceneError> {
        let mut wide = Vec::with_capacity(self.inst.len());
        for (i, &v) in self.inst.iter().enumerate() {
            let id = u16::try_from(v).map_err(|_| SceneError::IdTooLarge {
                path: path.into(),
                id: v,
                x: i as u32 % self.width,
                y: i as u32 / self.width,
            })?;
            wide.push(id);
        }
        let img = ImageBuffer::<Luma<u16>, _>::from_raw(self.width, self.height, wide);
        encode(img.map(DynamicImage::ImageLuma16), path)
    }
}

fn encode(img: Option<DynamicImage>, path: &Path) -> Result<Vec<u8>, SceneError> {
    // `from_raw` only fails on a buffer of the wrong length, which a valid scene cannot have.
    let img = img.expect("scene maps hold width × height pixels");
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .map_err(|source| SceneError::Encode { path: path.into(), source })?;
    Ok(out)
}

fn read(path: &Path) -> Result<Vec<u8>, SceneError> {
    crate::fs::read(path).map_err(|source| SceneError::Read { path: path.into(), source })
}

/// The bytes of a map a scene JSON names, and the name its errors should carry: the resolved file, or
/// `scene.json#label` for an embedded map.
fn map_bytes(map: &MapRef, json: &Path, dir: &Path, field: &'static str) -> Result<(PathBuf, Vec<u8>), SceneError> {
    match map {
        MapRef::Path(p) => {
            let resolved = dir.join(p);
            let bytes = read(&resolved).map_err(|e| SceneError::InScene { json: json.into(), source: Box::new(e) })?;
            Ok((resolved, bytes))
        }
        MapRef::PngBase64(text) => {
            let bytes =
                BASE64.decode(text.trim()).map_err(|source| SceneError::Base64 { path: json.into(), field, source })?;
            Ok((PathBuf::from(format!("{}#{field}", json.display())), bytes))
        }
    }
}

/// Errors of a file the JSON refers to also say which scene referred to it; embedded maps already carry its name.
fn in_scene(e: SceneError, json: &Path, map: &MapRef) -> SceneError {
    match map {
        MapRef::Path(_) => SceneError::InScene { json: json.into(), source: Box::new(e) },
        MapRef::PngBase64(_) => e,
    }
}

fn describe(color: ColorType) -> String {
    match color {
        ColorType::L8 => "8-bit grey".into(),
        ColorType::L16 => "16-bit grey".into(),
        ColorType::La8 => "8-bit grey with alpha".into(),
        ColorType::La16 => "16-bit grey with alpha".into(),
        ColorType::Rgb8 => "8-bit RGB".into(),
        ColorType::Rgba8 => "8-bit RGBA".into(),
        ColorType::Rgb16 => "16-bit RGB".into(),
        ColorType::Rgba16 => "16-bit RGBA".into(),
        other => format!("{other:?}"),
    }
}

fn decode_png(bytes: &[u8], path: &Path) -> Result<DynamicImage, SceneError> {
    image::load_from_memory_with_format(bytes, ImageFormat::Png)
        .map_err(|source| SceneError::Decode { path: path.into(), source })
}

/// A label map: 8-bit grey class ids, or an RGB(A) image of Cityscapes display colours (`*_gtFine_color.png`).
fn decode_label(bytes: &[u8], path: &Path) -> Result<(u32, u32, Vec<u8>), SceneError> {
    let img = decode_png(bytes, path)?;
    let (width, height) = (img.width(), img.height());
    let ids = match img {
        DynamicImage::ImageLuma8(g) => g.into_raw(),
        DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_) => colors_to_ids(&img.to_rgb8(), path)?,
        DynamicImage::ImageLuma16(_) => {
            let hint = " (a 16-bit grey image is usually an instance map)";
            return Err(SceneError::LabelFormat { path: path.into(), found: describe(ColorType::L16), hint });
        }
        other => return Err(SceneError::LabelFormat { path: path.into(), found: describe(other.color()), hint: "" }),
    };
    if let Some(i) = ids.iter().position(|&c| labels::label(c).is_none()) {
        let (x, y) = (i as u32 % width, i as u32 / width);
        let source = MapError::UnknownClass { id: ids[i] as u32, x, y };
        return Err(SceneError::Invalid { path: path.into(), source });
    }
    Ok((width, height, ids))
}

/// Colour label maps: an image whose pixels are all grey and below the class count holds ids saved as RGB (some
/// tools do that); anything else is read as Cityscapes display colours.
fn colors_to_ids(rgb: &image::RgbImage, path: &Path) -> Result<Vec<u8>, SceneError> {
    let grey_ids = rgb.pixels().all(|p| p[0] == p[1] && p[1] == p[2] && labels::label(p[0]).is_some());
    rgb.enumerate_pixels()
        .map(|(x, y, p)| match grey_ids {
            true => Ok(p[0]),
            false => labels::id_from_color(p.0).ok_or(SceneError::UnknownColor { path: path.into(), rgb: p.0, x, y }),
        })
        .collect()
}

fn decode_instance(bytes: &[u8], path: &Path) -> Result<(u32, u32, Vec<u32>), SceneError> {
    let img = decode_png(bytes, path)?;
    let (width, height) = (img.width(), img.height());
    let values = match img {
        DynamicImage::ImageLuma16(g) => g.into_raw().into_iter().map(u32::from).collect(),
        DynamicImage::ImageLuma8(g) => g.into_raw().into_iter().map(u32::from).collect(),
        other => return Err(SceneError::InstanceFormat { path: path.into(), found: describe(other.color()) }),
    };
    Ok((width, height, values))
}

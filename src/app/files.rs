//! The editor's files beyond the scene itself: the recent-files list, the crash-recovery autosave, and exporting a
//! render together with its label and instance maps.

use crate::fs::{write_bytes, write_rgb_image};
use crate::scene::{MapStorage, Scene};
use std::path::{Path, PathBuf};

/// How many files the recent list keeps.
pub const RECENT_MAX: usize = 10;
/// The autosave file in the editor's state folder; removed when the editor closes normally.
pub const RECOVERY_FILE: &str = "recovery.json";
const RECENT_FILE: &str = "recent.json";

/// Where the editor keeps its own files: `$PIX2PIXHD_STATE_DIR`, else `$XDG_STATE_HOME/pix2pixhd`, else
/// `~/.local/state/pix2pixhd`, else a folder in the temporary directory.
pub fn default_state_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("PIX2PIXHD_STATE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(d).join("pix2pixhd");
    }
    if let Some(h) = std::env::var_os("HOME") {
        return PathBuf::from(h).join(".local/state/pix2pixhd");
    }
    std::env::temp_dir().join("pix2pixhd-state")
}

pub fn load_recent(state_dir: &Path) -> Vec<PathBuf> {
    std::fs::read(state_dir.join(RECENT_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice::<Vec<PathBuf>>(&b).ok())
        .unwrap_or_default()
}

/// Puts `path` first in the list (once) and saves the list; failures to save are not worth bothering the user with.
pub fn push_recent(state_dir: &Path, list: &mut Vec<PathBuf>, path: &Path) {
    let p = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    list.retain(|q| q != &p);
    list.insert(0, p);
    list.truncate(RECENT_MAX);
    if std::fs::create_dir_all(state_dir).is_ok()
        && let Ok(json) = serde_json::to_vec_pretty(list)
    {
        let _ = write_bytes(&state_dir.join(RECENT_FILE), &json);
    }
}

pub fn recovery_path(state_dir: &Path) -> PathBuf {
    state_dir.join(RECOVERY_FILE)
}

/// Writes the recovery copy of the open scene (self-contained JSON).
pub fn autosave(state_dir: &Path, scene: &Scene) -> Result<PathBuf, String> {
    std::fs::create_dir_all(state_dir).map_err(|e| format!("{}: {e}", state_dir.display()))?;
    let path = recovery_path(state_dir);
    scene.save_json(&path, MapStorage::Embedded).map_err(|e| e.to_string())?;
    Ok(path)
}

/// The three files an export writes, from the picture's path: `x.png` (or `x.jpg`), `x_labelIds.png`,
/// `x_instanceIds.png`
/// (Cityscapes' suffixes, so the maps open again in the editor as a pair).
pub fn export_paths(image: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let image = if image.extension().is_some_and(|e| ["png", "jpg", "jpeg"].iter().any(|x| e.eq_ignore_ascii_case(x))) {
        image.to_path_buf()
    } else {
        image.with_extension("png")
    };
    let stem = image.file_stem().and_then(|s| s.to_str()).unwrap_or("render").to_string();
    let dir = image.parent().map(Path::to_path_buf).unwrap_or_default();
    (image.clone(), dir.join(format!("{stem}_labelIds.png")), dir.join(format!("{stem}_instanceIds.png")))
}

/// Writes the rendered picture and the maps it was rendered from, each atomically.
pub fn export(image: &Path, scene: &Scene, rgb: &[u8]) -> Result<[PathBuf; 3], String> {
    let (img, label, inst) = export_paths(image);
    let (w, h) = (scene.width(), scene.height());
    if rgb.len() != (w * h * 3) as usize {
        return Err(format!("the render is not {w}x{h}; wait for the full render before exporting"));
    }
    write_rgb_image(&img, rgb, (w, h)).map_err(|e| e.to_string())?;
    scene.save_label_png(&label).map_err(|e| e.to_string())?;
    scene.save_instance_png(&inst).map_err(|e| e.to_string())?;
    Ok([img, label, inst])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_list_keeps_newest_first_without_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let mut list = Vec::new();
        for name in ["a.json", "b.json", "a.json"] {
            push_recent(dir.path(), &mut list, Path::new(name));
        }
        assert_eq!(list, vec![PathBuf::from("a.json"), PathBuf::from("b.json")]);
        assert_eq!(load_recent(dir.path()), list);
    }

    #[test]
    fn export_names_follow_cityscapes() {
        let (a, b, c) = export_paths(Path::new("/x/street.png"));
        assert_eq!(a, PathBuf::from("/x/street.png"));
        assert_eq!(b, PathBuf::from("/x/street_labelIds.png"));
        assert_eq!(c, PathBuf::from("/x/street_instanceIds.png"));
        assert_eq!(export_paths(Path::new("/x/street")).0, PathBuf::from("/x/street.png"));
        assert_eq!(export_paths(Path::new("/x/street.jpg")).0, PathBuf::from("/x/street.jpg"));
    }
}

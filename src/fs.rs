//! Files written whole or not at all, and the project's own files (the bundled model, the sample scenes).
//!
//! Every file the project writes goes through [`write_atomically`]: the bytes go to a temporary file in the same
//! folder, which is flushed to disk and then renamed over the real name, so a crash, a full disk or Ctrl-C leaves
//! the old file or the new one, never a part.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A file that could not be written. Whatever was at `path` before is untouched.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct WriteError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Runs `write` on a temporary path beside `path`, flushes what it wrote to disk and renames it into place; on any
/// error the temporary file is removed and `path` keeps what it had.
pub fn write_atomically(path: &Path, write: impl FnOnce(&Path) -> std::io::Result<()>) -> Result<(), WriteError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let err = |source| WriteError { path: path.to_path_buf(), source };
    let name = path.file_name().ok_or_else(|| err(std::io::Error::other("the path names no file")))?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_file_name(format!(".{}.{}-{n}.tmp", name.to_string_lossy(), std::process::id()));
    let result = write(&tmp)
        .and_then(|()| std::fs::OpenOptions::new().write(true).open(&tmp)?.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    result.map_err(|source| {
        // The temporary file is ours and useless now; failing to remove it changes nothing for the caller.
        let _ = std::fs::remove_file(&tmp);
        err(source)
    })
}

/// Writes `bytes` to `path` atomically.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    write_atomically(path, |tmp| std::fs::File::create(tmp)?.write_all(bytes))
}

/// Writes an 8-bit RGB image of `width`×`height` pixels as a PNG, atomically, making its folder if needed.
pub fn write_rgb_png(path: &Path, rgb: &[u8], (width, height): (u32, u32)) -> Result<(), WriteError> {
    let err = |source| WriteError { path: path.to_path_buf(), source };
    if rgb.len() != width as usize * height as usize * 3 {
        return Err(err(std::io::Error::other(format!("{} bytes are not a {width}×{height} RGB image", rgb.len()))));
    }
    let img =
        image::RgbImage::from_raw(width, height, rgb.to_vec()).ok_or_else(|| err(std::io::Error::other("size")))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| WriteError { path: dir.to_path_buf(), source })?;
    }
    write_atomically(path, |tmp| img.save_with_format(tmp, image::ImageFormat::Png).map_err(std::io::Error::other))
}

/// A file or folder of the project: relative to the working directory first (a checkout carried to another
/// machine, or an installed copy beside the binary's data), else in the source tree this binary was built from.
pub fn project_path(relative: &str) -> PathBuf {
    let here = PathBuf::from(relative);
    if here.exists() { here } else { Path::new(env!("CARGO_MANIFEST_DIR")).join(relative) }
}

/// The sample scenes shipped in `assets/`, in name order.
pub fn sample_scenes() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(project_path("assets"))
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "json")).collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_keeps_the_old_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        write_bytes(&path, b"old").unwrap();
        let err = write_atomically(&path, |tmp| {
            std::fs::write(tmp, b"half")?;
            Err(std::io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert!(err.to_string().contains("a.txt") && err.to_string().contains("disk full"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
        write_bytes(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
    }

    #[test]
    fn a_png_that_cannot_be_written_says_so_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"x").unwrap();
        let err = write_rgb_png(&blocker.join("out.png"), &[0; 12], (2, 2)).unwrap_err().to_string();
        assert!(err.starts_with("cannot write") && err.contains("file"), "{err}");
        assert!(!err.contains("weight"), "{err}");
    }
}

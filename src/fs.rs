//! Files written whole or not at all, files read only when they are regular files, and the project's own files
//! (the bundled model, the sample scenes).
//!
//! Every file the project writes goes through [`write_atomically`]: the bytes go to a temporary file in the same
//! folder, which is flushed to disk and then renamed over the real name, so a crash, a full disk or Ctrl-C leaves
//! the old file or the new one, never a part. A temporary file left by a process that was killed is removed by the
//! next write into its folder. Every file the project reads by name goes through [`read`] or [`read_to_string`],
//! which refuse what is not a regular file (a FIFO would block the read forever, a device would never end).

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// A file that could not be written. Whatever was at `path` before is untouched.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {kind} {}: {source}", path.display())]
pub struct WriteError {
    pub path: PathBuf,
    /// What the file is ("image", "weight file", ...), from its extension.
    pub kind: &'static str,
    #[source]
    pub source: std::io::Error,
}

impl WriteError {
    pub fn new(path: &Path, source: std::io::Error) -> Self {
        WriteError { path: path.to_path_buf(), kind: kind_of(path), source }
    }
}

/// What a file is, from its extension, for messages.
pub fn kind_of(path: &Path) -> &'static str {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "png" | "jpg" | "jpeg" => "image",
        "safetensors" | "pth" | "pt" | "bin" => "weight file",
        "json" | "jsonl" => "JSON file",
        "html" => "web page",
        _ => "file",
    }
}

/// The name of a temporary file of `name` made by process `pid`: hidden, beside the real file.
fn temp_name(name: &str, pid: u32, n: u64) -> String {
    format!(".{name}.{pid}-{n}.tmp")
}

/// The pid in a name [`temp_name`] made, or `None` for any other name.
fn temp_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (_, tail) = rest.rsplit_once('.')?;
    let (pid, n) = tail.split_once('-')?;
    (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then_some(())?;
    pid.parse().ok()
}

/// Whether the process that made a temporary file at `made` is gone: no process `pid` runs, or the one that does
/// started after the file was made (the pid was reused). Where that cannot be told, the file is kept.
fn writer_is_gone(pid: u32, made: std::time::SystemTime) -> bool {
    if pid == std::process::id() {
        return false;
    }
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return false;
    }
    match std::fs::metadata(proc.join(pid.to_string())) {
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        Ok(m) => m.modified().is_ok_and(|started| started > made),
    }
}

/// Removes the temporary files of killed writers from `dir`, once per folder and process.
fn clean_stale_temps_once(dir: &Path) {
    static CLEANED: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);
    {
        let mut cleaned = CLEANED.lock().unwrap_or_else(|e| e.into_inner());
        if !cleaned.get_or_insert_with(HashSet::new).insert(dir.to_path_buf()) {
            return;
        }
    }
    clean_stale_temps(dir);
}

/// Removes from `dir` the temporary files [`write_atomically`] names whose writer is gone (killed before it could
/// rename or remove them). Every write does this once per folder and process; a program that goes on with a
/// folder's contents (a data set run again) calls it itself first.
pub fn clean_stale_temps(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(if dir.as_os_str().is_empty() { Path::new(".") } else { dir }) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(temp_pid) else { continue };
        let Ok(meta) = e.metadata() else { continue };
        if meta.is_file() && meta.modified().is_ok_and(|made| writer_is_gone(pid, made)) {
            // Another process may clean the same file at the same moment; either removal is as good.
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Runs `write` on a temporary path beside `path`, flushes what it wrote to disk and renames it into place; on any
/// error the temporary file is removed and `path` keeps what it had.
pub fn write_atomically(path: &Path, write: impl FnOnce(&Path) -> std::io::Result<()>) -> Result<(), WriteError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let err = |source| WriteError::new(path, source);
    let name = path.file_name().ok_or_else(|| err(std::io::Error::other("the path names no file")))?;
    if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err(err(std::io::Error::other("it is a folder")));
    }
    clean_stale_temps_once(path.parent().unwrap_or(Path::new("")));
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_file_name(temp_name(&name.to_string_lossy(), std::process::id(), n));
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

/// The image formats pictures are written in, by the extension of their name.
pub const IMAGE_EXTENSIONS: &str = ".png, .jpg or .jpeg";

/// Writes an 8-bit RGB image of `width`×`height` pixels atomically, making its folder if needed: PNG for a `.png`
/// name, JPEG (quality 95) for `.jpg` or `.jpeg`; any other extension is refused.
pub fn write_rgb_image(path: &Path, rgb: &[u8], (width, height): (u32, u32)) -> Result<(), WriteError> {
    let err = |source| WriteError::new(path, source);
    if rgb.len() != width as usize * height as usize * 3 {
        return Err(err(std::io::Error::other(format!("{} bytes are not a {width}×{height} RGB image", rgb.len()))));
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let format = match ext.as_str() {
        "png" => image::ImageFormat::Png,
        "jpg" | "jpeg" => image::ImageFormat::Jpeg,
        _ => {
            return Err(err(std::io::Error::other(format!(
                "{} is not an image format this program writes; name the file {IMAGE_EXTENSIONS}",
                if ext.is_empty() { "a name without an extension".to_string() } else { format!(".{ext}") }
            ))));
        }
    };
    let img =
        image::RgbImage::from_raw(width, height, rgb.to_vec()).ok_or_else(|| err(std::io::Error::other("size")))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| WriteError::new(dir, source))?;
    }
    write_atomically(path, |tmp| {
        let mut file = std::io::BufWriter::new(std::fs::File::create(tmp)?);
        match format {
            image::ImageFormat::Jpeg => {
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut file, 95).encode_image(&img)
            }
            _ => img.write_to(&mut file, format),
        }
        .map_err(std::io::Error::other)?;
        file.flush()
    })
}

/// `Ok` for a regular file; for anything else (missing, a folder, a FIFO, a device, a socket) the error that
/// reading it would give, or an `InvalidInput` error that says what it is.
pub fn check_regular(path: &Path) -> std::io::Result<std::fs::Metadata> {
    use std::os::unix::fs::FileTypeExt;
    let meta = std::fs::metadata(path)?;
    let t = meta.file_type();
    let what = if t.is_file() {
        return Ok(meta);
    } else if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "not a regular file"
    };
    Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("it is {what}, not a file")))
}

/// [`std::fs::read`] of a regular file only (see [`check_regular`]).
pub fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    check_regular(path)?;
    std::fs::read(path)
}

/// [`std::fs::read_to_string`] of a regular file only (see [`check_regular`]).
pub fn read_to_string(path: &Path) -> std::io::Result<String> {
    check_regular(path)?;
    std::fs::read_to_string(path)
}

/// `bytes` as "1.5 GB" (10^9 bytes), in MB below one GB, in TB from 10^12.
pub fn gb(bytes: u64) -> String {
    if bytes >= 1_000_000_000_000 {
        format!("{:.0} TB", bytes as f64 / 1e12)
    } else if bytes >= 1_000_000_000 {
        format!("{:.1} GB", bytes as f64 / 1e9)
    } else {
        format!("{:.1} MB", bytes as f64 / 1e6)
    }
}

/// Bytes free for this user on the file system that holds `path` (or its nearest existing folder above).
pub fn free_disk_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let mut at = path;
    while !at.exists() {
        at = at.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if at == Path::new(".") {
            break;
        }
    }
    let c = std::ffi::CString::new(at.as_os_str().as_bytes()).ok()?;
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `s` a statvfs the call fills.
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return None;
    }
    Some(s.f_bavail as u64 * s.f_frsize as u64)
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
        let err = write_rgb_image(&blocker.join("out.png"), &[0; 12], (2, 2)).unwrap_err().to_string();
        assert!(err.starts_with("cannot write") && err.contains("file"), "{err}");
        assert!(!err.contains("weight"), "{err}");
    }

    #[test]
    fn an_image_is_written_in_the_format_its_name_says_and_other_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let rgb = vec![200u8; 8 * 8 * 3];
        write_rgb_image(&dir.path().join("a.png"), &rgb, (8, 8)).unwrap();
        write_rgb_image(&dir.path().join("a.JPG"), &rgb, (8, 8)).unwrap();
        assert_eq!(std::fs::read(dir.path().join("a.png")).unwrap()[..4], *b"\x89PNG");
        assert_eq!(std::fs::read(dir.path().join("a.JPG")).unwrap()[..3], [0xFF, 0xD8, 0xFF]);
        let err = write_rgb_image(&dir.path().join("a.tiff"), &rgb, (8, 8)).unwrap_err().to_string();
        assert!(err.contains("cannot write file") && err.contains("a.tiff") && err.contains(".jpg"), "{err}");
        let err = write_rgb_image(dir.path(), &rgb, (8, 8)).unwrap_err().to_string();
        assert!(err.contains("cannot write"), "{err}");
        let sub = dir.path().join("folder.png");
        std::fs::create_dir(&sub).unwrap();
        let err = write_rgb_image(&sub, &rgb, (8, 8)).unwrap_err().to_string();
        assert!(err.starts_with("cannot write image") && err.contains("folder.png") && err.contains("folder"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3, "no temporary file left");
    }

    #[test]
    fn a_killed_writers_temporary_file_is_removed_by_the_next_write_and_a_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        // pid 4194303 is above Linux's largest pid (2^22 - 1 is the limit, pid_max defaults lower), so no
        // process has it; this process's own temporaries must stay.
        let stale = dir.path().join(temp_name("photo.png", 4_194_303, 0));
        let live = dir.path().join(temp_name("photo.png", std::process::id(), 999_999));
        let other = dir.path().join(".notes.tmp");
        for f in [&stale, &live, &other] {
            std::fs::write(f, b"x").unwrap();
        }
        assert_eq!(temp_pid(&temp_name("a.b.png", 42, 7)), Some(42));
        assert_eq!(temp_pid(".notes.tmp"), None);
        write_bytes(&dir.path().join("b.txt"), b"new").unwrap();
        assert!(!stale.exists(), "the dead writer's temporary is gone");
        assert!(live.exists() && other.exists(), "a live writer's file and files of other names stay");
    }

    #[test]
    fn what_is_not_a_regular_file_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.png");
        let ok = std::process::Command::new("mkfifo").arg(&fifo).status().is_ok_and(|s| s.success());
        if ok {
            let err = read(&fifo).unwrap_err();
            assert!(err.to_string().contains("FIFO"), "{err}");
        }
        assert!(read(dir.path()).unwrap_err().to_string().contains("folder"));
        assert_eq!(read(&dir.path().join("none")).unwrap_err().kind(), std::io::ErrorKind::NotFound);
    }
}

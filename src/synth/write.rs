//! Writing a data set in the pix2pixHD folder layout, every file atomically, and reading its sidecars back.

use super::{Scene, SceneMeta, SynthConfig, SynthError, TEST_INDEX_BASE, generate_scene};
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use rayon::prelude::*;
use std::fs;
use std::path::{Path, PathBuf};

/// How [`write_dataset`] treats existing output and the terminal.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteOptions {
    /// Replace the scenes in split folders that already hold files (their `NNNNN.png` / `NNNNN.json` files are
    /// removed first, so a smaller data set never inherits stale scenes from a larger one).
    pub force: bool,
    pub show_progress: bool,
}

/// What [`write_dataset`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetSummary {
    pub train: usize,
    pub test: usize,
    pub folders: Vec<PathBuf>,
}

const KINDS: [&str; 4] = ["label", "inst", "img", "meta"];

/// What a data set folder was made with, kept in it as [`MANIFEST`] so that a run stopped part-way can go on.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Manifest {
    config: SynthConfig,
    train: usize,
    test: usize,
}

/// The hidden file in the data set folder that records the arguments it was made with.
pub const MANIFEST: &str = ".synth.json";

/// Writes `n_train` + `n_test` scenes under `out` in the pix2pixHD layout: `{train,test}_label/NNNNN.png` (8-bit ids),
/// `_inst/` (16-bit ids), `_img/` (RGB) and `_meta/NNNNN.json` (sidecars). Training scene `i` is scene index `i`, test
/// scene `i` is index [`TEST_INDEX_BASE`]` + i`. Scenes are generated in parallel on the current rayon pool, without
/// a list of them in memory.
///
/// Each file is written atomically (temporary file, then rename), a scene's label map last, so a label map is never
/// without its photo. A folder that already holds the first part of the same data set (same arguments, recorded in
/// [`MANIFEST`]) is completed: scenes whose files are all there are kept. A data set the disk cannot hold is refused
/// before anything is written, with the estimate.
pub fn write_dataset(
    out: &Path,
    n_train: usize,
    n_test: usize,
    cfg: &SynthConfig,
    opts: &WriteOptions,
) -> Result<DatasetSummary, SynthError> {
    cfg.validate()?;
    let total = n_train.checked_add(n_test).ok_or(SynthError::TooMany { train: n_train, test: n_test })?;
    let manifest = Manifest { config: *cfg, train: n_train, test: n_test };
    let manifest_path = out.join(MANIFEST);
    let resume = !opts.force
        && crate::fs::read_to_string(&manifest_path)
            .ok()
            .and_then(|t| serde_json::from_str::<Manifest>(&t).ok())
            .is_some_and(|m| m == manifest);

    // The disk must hold what is still to write: measured on the first scene, encoded in memory.
    let first = if n_train > 0 { 0 } else { TEST_INDEX_BASE };
    let each: u64 = encode_scene(Path::new(""), "train", "0", &generate_scene(cfg, first))?
        .iter()
        .map(|(_, b)| b.len() as u64)
        .sum::<u64>()
        + 4 * 4096;
    let need = u128::from(each) * total as u128;
    if let Some(free) = crate::fs::free_disk_bytes(out)
        && need > u128::from(free)
        && !resume
    {
        return Err(SynthError::NoSpace {
            n: total as u128,
            width: cfg.width,
            height: cfg.height,
            need: need.min(u128::from(u64::MAX)) as u64,
            each,
            dir: out.to_path_buf(),
            free,
        });
    }

    let splits = [("train", n_train, 0u64), ("test", n_test, TEST_INDEX_BASE)];
    let mut folders = Vec::new();
    for &(phase, n, _) in &splits {
        if n == 0 {
            continue;
        }
        for kind in KINDS {
            let dir = out.join(format!("{phase}_{kind}"));
            prepare_dir(&dir, opts.force || resume, resume)?;
            folders.push(dir);
        }
    }
    let json = serde_json::to_vec_pretty(&manifest).expect("a manifest serialises");
    crate::fs::write_bytes(&manifest_path, &json)?;

    let pb = if opts.show_progress { ProgressBar::new(total as u64) } else { ProgressBar::hidden() };
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} synth [{elapsed_precise}] [{bar:36}] {pos}/{len} scenes  {rate}  ETA {eta}",
        )
        .expect("static template is valid")
        .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.1}/s", s.per_sec());
        })
        .progress_chars("=> "),
    );
    (0..total).into_par_iter().try_for_each(|j| {
        let (phase, i, n, base) =
            if j < n_train { ("train", j, n_train, 0) } else { ("test", j - n_train, n_test, TEST_INDEX_BASE) };
        let digits = n.saturating_sub(1).to_string().len().max(5);
        let stem = format!("{i:0digits$}");
        let files = scene_paths(out, phase, &stem);
        if !(resume && files.iter().all(|p| p.is_file())) {
            let scene = generate_scene(cfg, base + i as u64);
            for (path, bytes) in encode_scene(out, phase, &stem, &scene)? {
                crate::fs::write_bytes(&path, &bytes)?;
            }
        }
        pb.inc(1);
        Ok::<(), SynthError>(())
    })?;
    pb.finish_and_clear();
    Ok(DatasetSummary { train: n_train, test: n_test, folders })
}

/// Whether `name` is one of the files this generator writes (`00042.png`, `00042.json`).
pub(super) fn is_scene_file(name: &str) -> bool {
    let stem = name.strip_suffix(".png").or_else(|| name.strip_suffix(".json"));
    stem.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
}

/// Makes `dir`; one that holds files is refused unless `replace` (its scene files are removed) or `keep` (a run
/// with the same arguments goes on).
fn prepare_dir(dir: &Path, replace: bool, keep: bool) -> Result<(), SynthError> {
    let io_err = |source| SynthError::Io { path: dir.to_path_buf(), source };
    if keep {
        crate::fs::clean_stale_temps(dir);
    }
    if dir.is_dir() && !keep {
        let entries: Vec<_> = fs::read_dir(dir).map_err(io_err)?.collect::<Result<_, _>>().map_err(io_err)?;
        if !entries.is_empty() {
            if !replace {
                return Err(SynthError::NotEmpty { dir: dir.to_path_buf() });
            }
            for e in entries {
                let name = e.file_name();
                let name = name.to_string_lossy();
                if is_scene_file(&name) || (name.starts_with('.') && name.ends_with(".tmp")) {
                    let path = e.path();
                    fs::remove_file(&path).map_err(|source| SynthError::Io { path, source })?;
                }
            }
        }
    }
    fs::create_dir_all(dir).map_err(io_err)
}

/// A scene's four files, the label map last: it is written last, so that its presence means the scene is whole.
fn scene_paths(out: &Path, phase: &str, stem: &str) -> [PathBuf; 4] {
    let png = |kind: &str| out.join(format!("{phase}_{kind}")).join(format!("{stem}.png"));
    [out.join(format!("{phase}_meta")).join(format!("{stem}.json")), png("img"), png("inst"), png("label")]
}

/// A scene's files and their bytes, in the order [`scene_paths`] gives.
fn encode_scene(out: &Path, phase: &str, stem: &str, scene: &Scene) -> Result<Vec<(PathBuf, Vec<u8>)>, SynthError> {
    let [p_meta, p_img, p_inst, p_label] = scene_paths(out, phase, stem);
    let encode = |path: PathBuf, f: &dyn Fn(PngEncoder<&mut Vec<u8>>) -> image::ImageResult<()>| {
        let mut buf = Vec::new();
        // Fast deflate: the data set is written once and read many times, but the time limit is on writing it.
        f(PngEncoder::new_with_quality(&mut buf, CompressionType::Fast, FilterType::Adaptive))
            .map_err(|source| SynthError::Encode { path: path.clone(), source })?;
        Ok::<_, SynthError>((path, buf))
    };
    let json =
        serde_json::to_vec_pretty(&scene.meta).map_err(|source| SynthError::Json { path: p_meta.clone(), source })?;
    Ok(vec![
        (p_meta, json),
        encode(p_img, &|e| scene.rgb_image().write_with_encoder(e))?,
        encode(p_inst, &|e| scene.inst_image().write_with_encoder(e))?,
        encode(p_label, &|e| scene.label_image().write_with_encoder(e))?,
    ])
}

/// Reads the sidecar `<root>/<phase>_meta/<name>.json` of a data set written by `pix2pixhd synth`.
pub fn read_sidecar(root: &Path, phase: &str, name: &str) -> anyhow::Result<SceneMeta> {
    use anyhow::Context;
    let p = root.join(format!("{phase}_meta")).join(format!("{name}.json"));
    let text = fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a synth sidecar", p.display()))
}

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

/// Writes `n_train` + `n_test` scenes under `out` in the pix2pixHD layout: `{train,test}_label/NNNNN.png` (8-bit ids),
/// `_inst/` (16-bit ids), `_img/` (RGB) and `_meta/NNNNN.json` (sidecars). Training scene `i` is scene index `i`, test
/// scene `i` is index [`TEST_INDEX_BASE`]` + i`. Scenes are generated in parallel on the current rayon pool; each
/// file is written atomically (temporary file, then rename).
pub fn write_dataset(
    out: &Path,
    n_train: usize,
    n_test: usize,
    cfg: &SynthConfig,
    opts: &WriteOptions,
) -> Result<DatasetSummary, SynthError> {
    cfg.validate()?;
    let splits = [("train", n_train, 0u64), ("test", n_test, TEST_INDEX_BASE)];
    let mut folders = Vec::new();
    for &(phase, n, _) in &splits {
        if n == 0 {
            continue;
        }
        for kind in KINDS {
            let dir = out.join(format!("{phase}_{kind}"));
            prepare_dir(&dir, opts.force)?;
            folders.push(dir);
        }
    }

    let mut jobs = Vec::new();
    for &(phase, n, base) in &splits {
        let digits = n.saturating_sub(1).to_string().len().max(5);
        jobs.extend((0..n).map(|i| (phase, format!("{i:0digits$}"), base + i as u64)));
    }
    let pb = if opts.show_progress { ProgressBar::new(jobs.len() as u64) } else { ProgressBar::hidden() };
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
    jobs.par_iter().try_for_each(|(phase, stem, index)| {
        let scene = generate_scene(cfg, *index);
        write_scene(out, phase, stem, &scene)?;
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

fn prepare_dir(dir: &Path, force: bool) -> Result<(), SynthError> {
    let io_err = |source| SynthError::Io { path: dir.to_path_buf(), source };
    if dir.is_dir() {
        let entries: Vec<_> = fs::read_dir(dir).map_err(io_err)?.collect::<Result<_, _>>().map_err(io_err)?;
        if !entries.is_empty() {
            if !force {
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

fn write_scene(out: &Path, phase: &str, stem: &str, scene: &Scene) -> Result<(), SynthError> {
    let png = |kind: &str| out.join(format!("{phase}_{kind}")).join(format!("{stem}.png"));
    let (p_label, p_inst, p_img) = (png("label"), png("inst"), png("img"));
    let p_meta = out.join(format!("{phase}_meta")).join(format!("{stem}.json"));

    let encode = |path: &Path, f: &dyn Fn(PngEncoder<&mut Vec<u8>>) -> image::ImageResult<()>| {
        let mut buf = Vec::new();
        // Fast deflate: the data set is written once and read many times, but the time limit is on writing it.
        f(PngEncoder::new_with_quality(&mut buf, CompressionType::Fast, FilterType::Adaptive))
            .map_err(|source| SynthError::Encode { path: path.to_path_buf(), source })?;
        crate::fs::write_bytes(path, &buf).map_err(SynthError::from)
    };
    encode(&p_label, &|e| scene.label_image().write_with_encoder(e))?;
    encode(&p_inst, &|e| scene.inst_image().write_with_encoder(e))?;
    encode(&p_img, &|e| scene.rgb_image().write_with_encoder(e))?;
    let json =
        serde_json::to_vec_pretty(&scene.meta).map_err(|source| SynthError::Json { path: p_meta.clone(), source })?;
    Ok(crate::fs::write_bytes(&p_meta, &json)?)
}

/// Reads the sidecar `<root>/<phase>_meta/<name>.json` of a data set written by `pix2pixhd synth`.
pub fn read_sidecar(root: &Path, phase: &str, name: &str) -> anyhow::Result<SceneMeta> {
    use anyhow::Context;
    let p = root.join(format!("{phase}_meta")).join(format!("{name}.json"));
    let text = fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a synth sidecar", p.display()))
}

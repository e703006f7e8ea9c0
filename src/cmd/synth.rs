//! `pix2pixhd synth`: write a synthetic street-scene data set (`crate::synth`) in the pix2pixHD folder layout.

use crate::synth::{SynthConfig, WriteOptions, write_dataset};
use anyhow::{Context, Result, bail, ensure};
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct SynthArgs {
    /// Data set folder; gets train_label/ (8-bit label ids), train_inst/ (16-bit instance ids), train_img/ (RGB),
    /// train_meta/ (JSON: the appearance mode of every object and stuff class), and the same for test_*.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Number of training scenes.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub train: usize,
    /// Number of test scenes (drawn from their own scene indices, so they never repeat a training scene).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub test: usize,
    /// Image width in pixels.
    #[arg(long, default_value_t = 2048)]
    pub width: u32,
    /// Image height in pixels.
    #[arg(long, default_value_t = 1024)]
    pub height: u32,
    /// Seed; the same seed gives byte-identical files at any --jobs.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Re-draw what the label map does not show from this seed: the fine texture (sensor noise, clouds, grain, setts,
    /// slabs, bricks, grass, stains, dark or lit windows, leaves) and the details inside regions (window grids, shop
    /// fronts, lane dashes, zebra crossings). Everything else stays as with 0, the data set's own: the same label and
    /// instance maps, modes, colours and lighting. `eval-model --texture-floor` uses it to measure how much of a
    /// photo no label map can predict; it also gives more photos of the same streets.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub texture_seed: u64,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Replace the scenes in split folders that already hold files.
    #[arg(long)]
    pub force: bool,
    /// Do not show the progress bar.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(args: &SynthArgs) -> Result<()> {
    let cfg = SynthConfig { width: args.width, height: args.height, seed: args.seed, texture_seed: args.texture_seed };
    cfg.validate()?;
    if args.train == 0 && args.test == 0 {
        bail!("nothing to do: --train and --test are both 0");
    }
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = args.jobs {
        ensure!(n > 0, "--jobs must be at least 1 (got 0)");
        pool = pool.num_threads(n);
    }
    let pool = pool.build().context("cannot start the worker threads")?;
    let opts = WriteOptions { force: args.force, show_progress: !args.quiet };
    let t0 = Instant::now();
    let sum = pool.install(|| write_dataset(&args.out, args.train, args.test, &cfg, &opts))?;
    let secs = t0.elapsed().as_secs_f64();
    let n = sum.train + sum.test;
    eprintln!(
        "wrote {} train + {} test scenes ({}x{}, seed {}{}) to {} in {:.1} s ({:.1} scenes/s)",
        sum.train,
        sum.test,
        cfg.width,
        cfg.height,
        cfg.seed,
        if cfg.texture_seed == 0 { String::new() } else { format!(", texture seed {}", cfg.texture_seed) },
        args.out.display(),
        secs,
        n as f64 / secs.max(1e-9)
    );
    Ok(())
}

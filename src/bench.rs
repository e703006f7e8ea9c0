//! Timing the networks (`pix2pixhd bench`): G's forward pass and a whole training iteration here, and the same
//! network in the PyTorch reference (`tests/reference/bench*.py`) in the same run, one after the other so that they
//! never compete for cores. Both sides build the architecture with random weights (speed does not depend on the
//! values), run untimed warm-up passes and then timed ones on one input.

use crate::model::ModelConfig;
use crate::model::fast::GenInput;
use crate::model::loss::GanMode;
use crate::model::runtime::GeneratorModel;
use crate::model::vgg::Vgg19;
use crate::train::adam::Adam;
use crate::train::nets::{Freeze, LossOptions, Nets, StepInput, train_step};
use crate::train::pool::ImagePool;
use std::path::Path;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// Median, mean and minimum of a set of timings, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub median: f64,
    pub mean: f64,
    pub min: f64,
}

impl Stats {
    pub fn of(times: &[f64]) -> Self {
        let mut t = times.to_vec();
        t.sort_by(f64::total_cmp);
        let n = t.len();
        let median = if n % 2 == 1 { t[n / 2] } else { (t[n / 2 - 1] + t[n / 2]) / 2.0 };
        Self { median, mean: t.iter().sum::<f64>() / n as f64, min: t[0] }
    }
}

fn sync(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

/// Times `iters` forward passes after `warmup` untimed ones, from `input` on the fast path (the labels, as a
/// render gives them) or from `dense` (the same input encoded) on the exact one.
pub fn time_generator(g: &GeneratorModel, input: &GenInput, dense: &Tensor, warmup: usize, iters: usize) -> Vec<f64> {
    let device = g.device();
    let mut times = Vec::with_capacity(iters);
    for i in 0..warmup + iters {
        sync(device);
        let t0 = Instant::now();
        let y = if g.path().channels_last { g.infer_input(input) } else { g.infer(dense) };
        sync(device);
        let dt = t0.elapsed().as_secs_f64();
        drop(y);
        if i >= warmup {
            times.push(dt);
        }
    }
    times
}

/// One training iteration's shape: a batch of `batch`×`height`×`width`, with or without the VGG loss.
#[derive(Debug, Clone, Copy)]
pub struct TrainingBench {
    pub batch: i64,
    pub height: i64,
    pub width: i64,
    pub vgg_loss: bool,
    pub warmup: usize,
    pub iters: usize,
}

/// Times `iters` training iterations (after `warmup`) of the model's G and D on a constant batch: G forward; D on
/// the detached fake, the real image and the fake; LSGAN + feature matching (+ VGG); both Adam steps.
pub fn time_training(cfg: &ModelConfig, b: TrainingBench, device: Device) -> Vec<f64> {
    let nets = Nets::new(cfg, device, 0);
    let vgg = b.vgg_loss.then(|| Vgg19::new(device));
    if let Some(v) = &vgg {
        let mut vs_frozen = v.var_store().variables();
        for t in vs_frozen.values_mut() {
            let _ = t.requires_grad_(false);
        }
    }
    let mut opt_g = Adam::new(nets.g_params(Freeze::default()), 2e-4, 0.5);
    let mut opt_d = Adam::new(nets.d_params(), 2e-4, 0.5);
    let mut pool = ImagePool::new(0, 0);
    let input = Tensor::zeros([b.batch, cfg.g_input_nc(), b.height, b.width], (Kind::Float, device));
    let _ = input.narrow(1, 0, 1).fill_(1.0);
    let image = Tensor::rand([b.batch, 3, b.height, b.width], (Kind::Float, device)) * 2.0 - 1.0;
    let pool_ids = Tensor::zeros([b.batch, 1, b.height, b.width], (Kind::Int64, device));
    let x = StepInput { input, pool_ids, image, whole: None };
    let lo = LossOptions { lambda_feat: 10.0, gan_feat: true, mode: GanMode::Lsgan, lambda_l1: 0.0 };
    let mut times = Vec::new();
    for i in 0..b.warmup + b.iters {
        sync(device);
        let t0 = Instant::now();
        train_step(&nets, vgg.as_ref(), (&mut opt_g, &mut opt_d), &mut pool, &x, i as u64, lo, None);
        sync(device);
        if i >= b.warmup {
            times.push(t0.elapsed().as_secs_f64());
        }
    }
    times
}

/// What the PyTorch reference reported.
#[derive(Debug, Clone)]
pub struct Reference {
    pub stats: Stats,
    pub torch: String,
    pub threads: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("cannot run the PyTorch reference with {}: {source}", python.display())]
    Start { python: std::path::PathBuf, source: std::io::Error },
    #[error("the PyTorch reference {} failed:\n{stderr}", script.display())]
    Failed { script: std::path::PathBuf, stderr: String },
    #[error("unexpected output from the PyTorch reference {}: {line}", script.display())]
    Output { script: std::path::PathBuf, line: String },
}

/// Runs a reference script (`tests/reference/bench.py` or `bench_train.py`) with `python` and reads the timings it
/// prints as its last line (`{"times": [...], "torch": "...", "threads": N}`).
pub fn run_reference(python: &Path, script: &Path, args: &[String]) -> Result<Reference, ReferenceError> {
    let out = std::process::Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .map_err(|source| ReferenceError::Start { python: python.to_path_buf(), source })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).trim_end().to_string();
        return Err(ReferenceError::Failed { script: script.to_path_buf(), stderr });
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or("").to_string();
    let bad = || ReferenceError::Output { script: script.to_path_buf(), line: line.clone() };
    let v: serde_json::Value = serde_json::from_str(&line).map_err(|_| bad())?;
    let times: Vec<f64> = v["times"].as_array().ok_or_else(bad)?.iter().filter_map(|t| t.as_f64()).collect();
    if times.is_empty() {
        return Err(bad());
    }
    Ok(Reference {
        stats: Stats::of(&times),
        torch: v["torch"].as_str().unwrap_or("?").to_string(),
        threads: v["threads"].to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::Stats;

    #[test]
    fn stats_median_of_even_and_odd() {
        assert_eq!(Stats::of(&[3.0, 1.0, 2.0]).median, 2.0);
        assert_eq!(Stats::of(&[4.0, 1.0, 2.0, 3.0]).median, 2.5);
        assert_eq!(Stats::of(&[4.0, 1.0]).min, 1.0);
    }
}

//! `pix2pixhd bench`: times G's forward pass (no autograd) here and in the PyTorch reference, in the same run.
//!
//! Both sides build the same architecture with random weights (speed does not depend on the values), run
//! `warmup` untimed passes and then `iters` timed ones on one input of the chosen size, one after the other so that
//! they never compete for cores. The PyTorch side is `tests/reference/bench.py` on the project's `.venv` python.

use crate::cli::ModelArgs;
use crate::model::Preset;
use crate::model::runtime::{GeneratorModel, Precision, pick_device};
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Image width (a multiple of the model's size base: 32 for label2city_1024p).
    #[arg(long, default_value_t = 1024)]
    pub width: i64,
    /// Image height.
    #[arg(long, default_value_t = 512)]
    pub height: i64,
    /// cpu, cuda, cuda:N, or auto (CUDA when available).
    #[arg(long, default_value = "auto")]
    pub device: String,
    #[arg(long, value_enum, default_value_t = Precision::Fp32)]
    pub precision: Precision,
    /// Untimed passes first (allocator and kernel warm-up).
    #[arg(long, default_value_t = 1)]
    pub warmup: usize,
    /// Timed passes.
    #[arg(long, default_value_t = 3)]
    pub iters: usize,
    /// Skip the PyTorch reference.
    #[arg(long)]
    pub no_pytorch: bool,
    /// Python with torch 2.11 for the reference (default: the project's .venv/bin/python).
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// Time a whole training iteration (G, D, losses, both Adam steps) instead of G's forward pass.
    #[arg(long)]
    pub train: bool,
    /// Batch size of a training iteration.
    #[arg(long, default_value_t = 1)]
    pub batch_size: i64,
    /// Leave the VGG loss out of the timed training iteration (its weights are random here: speed only).
    #[arg(long)]
    pub no_vgg_loss: bool,
    /// Time the editor instead: edit -> preview and edit -> full render through the render worker, and the UI
    /// frame time while it renders. Model: --model (default: the bundled one); scene: --scene (default: the
    /// first sample scene). --iters edits are timed.
    #[arg(long)]
    pub editor: bool,
    /// The scene for --editor.
    #[arg(long, value_name = "FILE")]
    pub scene: Option<PathBuf>,
}

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

/// Times `iters` forward passes after `warmup` untimed ones.
pub fn time_generator(g: &GeneratorModel, x: &Tensor, warmup: usize, iters: usize) -> Vec<f64> {
    let device = g.device();
    let mut times = Vec::with_capacity(iters);
    for i in 0..warmup + iters {
        sync(device);
        let t0 = Instant::now();
        let y = g.infer(x);
        sync(device);
        let dt = t0.elapsed().as_secs_f64();
        drop(y);
        if i >= warmup {
            times.push(dt);
        }
    }
    times
}

/// Times `iters` training iterations (after `warmup`) of the model's G and D on a constant batch.
fn time_training(cfg: &crate::model::ModelConfig, args: &BenchArgs, device: Device) -> Vec<f64> {
    use crate::model::loss::GanMode;
    use crate::train::adam::Adam;
    use crate::train::nets::{Freeze, LossOptions, Nets, StepInput, train_step};
    use crate::train::pool::ImagePool;
    let nets = Nets::new(cfg, device, 0);
    let vgg = (!args.no_vgg_loss).then(|| crate::model::vgg::Vgg19::new(device));
    if let Some(v) = &vgg {
        let mut vs_frozen = v.var_store().variables();
        for t in vs_frozen.values_mut() {
            let _ = t.requires_grad_(false);
        }
    }
    let mut opt_g = Adam::new(nets.g_params(Freeze::default()), 2e-4, 0.5);
    let mut opt_d = Adam::new(nets.d_params(), 2e-4, 0.5);
    let mut pool = ImagePool::new(0, 0);
    let (b, h, w) = (args.batch_size, args.height, args.width);
    let input = Tensor::zeros([b, cfg.g_input_nc(), h, w], (Kind::Float, device));
    let _ = input.narrow(1, 0, 1).fill_(1.0);
    let image = Tensor::rand([b, 3, h, w], (Kind::Float, device)) * 2.0 - 1.0;
    let x = StepInput { input, pool_ids: Tensor::zeros([b, 1, h, w], (Kind::Int64, device)), image, whole: None };
    let lo = LossOptions { lambda_feat: 10.0, gan_feat: true, mode: GanMode::Lsgan, lambda_l1: 0.0 };
    let mut times = Vec::new();
    for i in 0..args.warmup + args.iters {
        sync(device);
        let t0 = Instant::now();
        train_step(&nets, vgg.as_ref(), (&mut opt_g, &mut opt_d), &mut pool, &x, i as u64, lo, None);
        sync(device);
        if i >= args.warmup {
            times.push(t0.elapsed().as_secs_f64());
        }
    }
    times
}

/// Finds a file of the project: relative to the working directory first (a checkout carried to another
/// machine), then in the source tree this binary was built from.
fn project_file(rel: &str) -> PathBuf {
    let here = PathBuf::from(rel);
    if here.exists() { here } else { PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel) }
}

pub fn run(args: &BenchArgs) -> Result<()> {
    if args.editor {
        let model = args.model.model.clone().unwrap_or_else(crate::render_cmd::bundled_model_dir);
        return crate::app::latency::run(&model, args.scene.as_deref(), &args.device, args.iters.max(1), 300);
    }
    let mut margs = args.model.clone();
    if margs.model.is_none() && margs.config.is_none() && margs.preset.is_none() {
        margs.preset = Some(Preset::Label2City1024p);
    }
    let resolved = margs.resolve()?;
    let cfg = resolved.cfg;
    let base = cfg.size_base();
    if args.width % base != 0 || args.height % base != 0 || args.width < 2 * base || args.height < 2 * base {
        bail!(
            "{}×{} does not fit this model's generator: both sides must be multiples of {base} and at least {}",
            args.width,
            args.height,
            2 * base
        );
    }
    if args.iters == 0 {
        bail!("--iters must be at least 1");
    }
    let device = pick_device(&args.device)?;
    let dev_name = match device {
        Device::Cuda(i) => format!("cuda:{i}"),
        _ => "cpu".to_string(),
    };
    let prec = format!("{:?}", args.precision).to_lowercase();
    println!("{}", crate::torch_info::report());
    println!(
        "bench: net_g {:?}, ngf {}, input {} ch, {}×{}, {dev_name}, {prec}, warmup {}, iters {}",
        cfg.net_g,
        cfg.ngf,
        cfg.g_input_nc(),
        args.width,
        args.height,
        args.warmup,
        args.iters
    );

    let rust = if args.train {
        if args.precision != Precision::Fp32 {
            bail!("--train times fp32 training; mixed precision is `train --amp fp16`");
        }
        if cfg.use_features() {
            bail!("--train times a model without features");
        }
        println!("training iteration: batch {}, VGG loss {}", args.batch_size, !args.no_vgg_loss);
        Stats::of(&time_training(&cfg, args, device))
    } else {
        let mut g = match &resolved.files.g_weights {
            Some(w) => GeneratorModel::load(&cfg, w, device)?.0,
            None => GeneratorModel::random(&cfg, device, 0)?,
        };
        g.set_precision(args.precision);
        println!("parameters: {}", g.param_count());
        let x = Tensor::randn([1, cfg.g_input_nc(), args.height, args.width], (Kind::Float, device))
            .to_kind(args.precision.kind());
        Stats::of(&time_generator(&g, &x, args.warmup, args.iters))
    };
    println!("rust (tch):  median {:.4} s  mean {:.4} s  min {:.4} s", rust.median, rust.mean, rust.min);

    if args.no_pytorch {
        return Ok(());
    }
    let python = args.python.clone().unwrap_or_else(|| project_file(".venv/bin/python"));
    let (script, script_args) = if args.train {
        let a = [
            serde_json::to_string(&cfg)?,
            args.width.to_string(),
            args.height.to_string(),
            dev_name,
            args.batch_size.to_string(),
            if args.no_vgg_loss { "0" } else { "1" }.to_string(),
            args.warmup.to_string(),
            args.iters.to_string(),
        ];
        (project_file("tests/reference/bench_train.py"), a.to_vec())
    } else {
        let a = [
            serde_json::to_string(&cfg)?,
            args.width.to_string(),
            args.height.to_string(),
            dev_name,
            prec,
            args.warmup.to_string(),
            args.iters.to_string(),
        ];
        (project_file("tests/reference/bench.py"), a.to_vec())
    };
    let out = std::process::Command::new(&python)
        .arg(&script)
        .args(script_args)
        .output()
        .with_context(|| format!("cannot run the PyTorch reference with {}", python.display()))?;
    if !out.status.success() {
        bail!(
            "the PyTorch reference {} failed:\n{}",
            script.display(),
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or("");
    let v: serde_json::Value =
        serde_json::from_str(line).with_context(|| format!("unexpected reference output: {line}"))?;
    let times: Vec<f64> = v["times"].as_array().context("no times")?.iter().filter_map(|t| t.as_f64()).collect();
    let torch = Stats::of(&times);
    println!(
        "pytorch {} ({} threads): median {:.4} s  mean {:.4} s  min {:.4} s",
        v["torch"].as_str().unwrap_or("?"),
        v["threads"],
        torch.median,
        torch.mean,
        torch.min
    );
    println!("ratio rust/pytorch (median): {:.3}", rust.median / torch.median);
    Ok(())
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

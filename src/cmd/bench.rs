//! `pix2pixhd bench`: times G's forward pass (or a training iteration, or the editor's waits) here and, in the
//! same run, the PyTorch reference, and prints both and their ratio.

use super::args::ModelArgs;
use crate::bench::{Stats, TrainingBench, run_reference, time_generator, time_training};
use crate::model::Preset;
use crate::model::runtime::{GeneratorModel, Precision, pick_device};
use anyhow::{Result, bail};
use std::path::PathBuf;
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

fn print_stats(who: &str, s: &Stats) {
    println!("{who}:  median {:.4} s  mean {:.4} s  min {:.4} s", s.median, s.mean, s.min);
}

pub fn run(args: &BenchArgs) -> Result<()> {
    if args.editor {
        let model = args.model.model.clone().unwrap_or_else(crate::render::bundled_model_dir);
        return crate::app::latency::run(&model, args.scene.as_deref(), &args.device, args.iters.max(1), 300);
    }
    let mut margs = args.model.clone();
    if margs.model.is_none() && !margs.config.is_given() {
        margs.config.preset = Some(Preset::Label2City1024p);
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
    let prec = args.precision.name();
    println!("{}", crate::model::torch_info::report());
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
        let b = TrainingBench {
            batch: args.batch_size,
            height: args.height,
            width: args.width,
            vgg_loss: !args.no_vgg_loss,
            warmup: args.warmup,
            iters: args.iters,
        };
        Stats::of(&time_training(&cfg, b, device))
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
    print_stats("rust (tch)", &rust);

    if args.no_pytorch {
        return Ok(());
    }
    let python = args.python.clone().unwrap_or_else(|| crate::fs::project_path(".venv/bin/python"));
    let mut script_args = vec![serde_json::to_string(&cfg)?, args.width.to_string(), args.height.to_string(), dev_name];
    let script = if args.train {
        script_args.extend([args.batch_size.to_string(), u8::from(!args.no_vgg_loss).to_string()]);
        "tests/reference/bench_train.py"
    } else {
        script_args.push(prec.to_string());
        "tests/reference/bench.py"
    };
    script_args.extend([args.warmup.to_string(), args.iters.to_string()]);
    let r = run_reference(&python, &crate::fs::project_path(script), &script_args)?;
    print_stats(&format!("pytorch {} ({} threads)", r.torch, r.threads), &r.stats);
    println!("ratio rust/pytorch (median): {:.3}", rust.median / r.stats.median);
    Ok(())
}

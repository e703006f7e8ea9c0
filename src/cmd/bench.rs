//! `pix2pixhd bench`: times G's forward pass (or a training iteration, or the editor's waits) here and, in the
//! same run, the PyTorch reference (eager float32 NCHW, the official path, and PyTorch's best eager configuration:
//! channels-last in bf16 on the CPU, fp16 on CUDA), and prints them and the ratios; or (`--fidelity`) how far each
//! precision's renders are from float32.

use super::args::ModelArgs;
use crate::bench::{Stats, TrainingBench, run_reference, time_generator, time_training};
use crate::model::Preset;
use crate::model::runtime::{GeneratorModel, Precision, pick_device};
use crate::render::{PrecisionChoice, check_input, choose};
use anyhow::{Result, bail};
use std::path::PathBuf;
use tch::{Device, Kind};

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
    /// Our side's inference path, as for `render` (auto: the one `render` and the editor pick here).
    #[arg(long, value_enum, default_value_t = PrecisionChoice::Auto)]
    pub precision: PrecisionChoice,
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
    /// Report instead how far each precision's renders are from the exact fp32 render (PSNR, largest difference
    /// in grey levels): the sample scenes (or --scenes) with --model (default: the bundled model), or with a
    /// configuration's seeded random weights (--preset label2city_1024p), at the scenes' size.
    #[arg(long)]
    pub fidelity: bool,
    /// Scenes for --fidelity (default: the sample scenes in assets/).
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub scenes: Vec<PathBuf>,
}

fn print_stats(who: &str, s: &Stats) {
    println!("{who}:  median {:.4} s  mean {:.4} s  min {:.4} s", s.median, s.mean, s.min);
}

pub fn run(args: &BenchArgs) -> Result<()> {
    if args.editor {
        let model = args.model.model.clone().unwrap_or_else(crate::render::bundled_model_dir);
        let (scene, iters) = (args.scene.as_deref(), args.iters.max(1));
        return crate::app::latency::run(&model, scene, &args.device, args.precision, iters, 300);
    }
    if args.fidelity {
        return super::fidelity::run(&args.model, &args.scenes, &args.device);
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
    println!("{}", crate::model::torch_info::report());
    println!(
        "bench: net_g {:?}, ngf {}, input {} ch, {}×{}, {dev_name}, warmup {}, iters {}",
        cfg.net_g,
        cfg.ngf,
        cfg.g_input_nc(),
        args.width,
        args.height,
        args.warmup,
        args.iters
    );

    let rust = if args.train {
        if !matches!(args.precision, PrecisionChoice::Auto | PrecisionChoice::Fixed(Precision::Fp32)) {
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
        let chosen = crate::model::memory::guard(|| choose(&mut g, args.precision)).map_err(anyhow::Error::msg)?;
        println!("parameters: {}", g.param_count());
        println!("ours: {}", chosen.note);
        // A structured input (labels in rectangles, their boundaries, features), as a render makes it.
        let feat_num = if cfg.use_features() { cfg.feat_num } else { 0 };
        let input = check_input(cfg.label_nc, !cfg.no_instance, feat_num, args.width, args.height);
        let dense = input.to_dense(Kind::Float, device).contiguous();
        Stats::of(&time_generator(&g, &input, &dense, args.warmup, args.iters))
    };
    print_stats("ours (tch)", &rust);

    if args.no_pytorch {
        return Ok(());
    }
    let python = args.python.clone().unwrap_or_else(|| crate::fs::project_path(".venv/bin/python"));
    let base_args = vec![serde_json::to_string(&cfg)?, args.width.to_string(), args.height.to_string(), dev_name];
    let counts = [args.warmup.to_string(), args.iters.to_string()];
    if args.train {
        let mut a = base_args;
        a.extend([args.batch_size.to_string(), u8::from(!args.no_vgg_loss).to_string()]);
        a.extend(counts);
        let r = run_reference(&python, &crate::fs::project_path("tests/reference/bench_train.py"), &a)?;
        print_stats(&format!("pytorch {} ({} threads)", r.torch, r.threads), &r.stats);
        println!("ratio ours/pytorch (median): {:.3}", rust.median / r.stats.median);
        return Ok(());
    }
    // The official path, then PyTorch's best eager configuration on this device.
    let best = match device {
        Device::Cuda(_) => ("fp16", "channels_last"),
        _ => ("bf16", "channels_last"),
    };
    for (precision, layout) in [("fp32", "nchw"), best] {
        let mut a = base_args.clone();
        a.extend([precision.to_string(), layout.to_string()]);
        a.extend(counts.clone());
        let r = run_reference(&python, &crate::fs::project_path("tests/reference/bench.py"), &a)?;
        let who = format!("pytorch {} eager {precision} {layout} ({} threads)", r.torch, r.threads);
        print_stats(&who, &r.stats);
        println!("ratio ours/pytorch-{precision}-{layout} (median): {:.3}", rust.median / r.stats.median);
    }
    Ok(())
}

//! The `pix2pixhd` command line: one binary for the whole pix2pixHD workflow.

use anyhow::Result;
use clap::{Parser, Subcommand};
use pix2pixhd::cli::ModelArgs;
use pix2pixhd::model::encoder::Encoder;
use pix2pixhd::model::runtime::GeneratorModel;
use pix2pixhd::model::runtime::Precision;
use pix2pixhd::model::{discriminator::MultiscaleDiscriminator, param_count};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "pix2pixhd",
    version,
    about = "pix2pixHD (Wang et al., CVPR 2018) scene editor and toolkit",
    long_about = "pix2pixHD (Wang et al., CVPR 2018) scene editor and toolkit.\n\n\
                  The networks run on LibTorch, on CUDA when there is a GPU and on the CPU otherwise. \
                  Weights load from .safetensors or from PyTorch state dicts (.pth), so published \
                  pix2pixHD checkpoints work as they are."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Open the editor (the default with no subcommand): paint label maps, edit objects, pick styles, render live.
    Edit(EditArgs),
    /// Print the LibTorch version, CUDA availability and GPU; with a model, its configuration and size.
    Info(InfoArgs),
    /// Generate a synthetic street-scene data set (label ids, instance ids, photos and style sidecars) in the
    /// pix2pixHD folder layout.
    Synth(pix2pixhd::data::synth::SynthArgs),
    /// Train pix2pixHD (G, multiscale D, optionally the style encoder E) on a data set.
    Train(Box<pix2pixhd::train::run::TrainArgs>),
    /// Render a label map (+ instance map, + styles) to a photo with a trained generator.
    Render(Box<pix2pixhd::render_cmd::RenderArgs>),
    /// Run a trained encoder over a data set and cluster the per-object styles into clusters.json.
    Encode(pix2pixhd::encode_cmd::EncodeArgs),
    /// Measure style control on a synthetic data set: cluster purity of car colour modes, and render hit rate.
    EvalStyles(pix2pixhd::eval_styles::EvalStylesArgs),
    /// The quality figures of a model card on held-out scenes: reconstruction L1 vs a class-colour baseline,
    /// colour fidelity per class, and a contact sheet.
    EvalModel(pix2pixhd::eval_model::EvalModelArgs),
    /// Time the generator's forward pass (or a training iteration) here and in the PyTorch reference.
    Bench(pix2pixhd::bench::BenchArgs),
}

#[derive(clap::Args, Default)]
struct EditArgs {
    /// A scene .json, or a label map .png (8-bit class ids or Cityscapes colours); default: the first sample
    /// scene in assets/.
    scene: Option<PathBuf>,
    /// The instance map (16-bit PNG) for a label PNG; found by name when not given (Cityscapes' _instanceIds.png).
    #[arg(long, value_name = "PNG")]
    inst: Option<PathBuf>,
    /// The model folder the renderer loads (a run folder with config.json, weights and clusters.json);
    /// default: the bundled model in models/default.
    #[arg(long, value_name = "DIR")]
    model: Option<PathBuf>,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    device: String,
    #[arg(long, value_enum, default_value = "fp32")]
    precision: Option<Precision>,
    /// Seconds between autosaves of a changed scene to the recovery file (0: off).
    #[arg(long, default_value_t = 60)]
    autosave_secs: u64,
}

fn edit(a: EditArgs) -> Result<()> {
    let mut o = pix2pixhd::app::EditorOptions {
        scene: a.scene,
        inst: a.inst,
        device: a.device,
        precision: a.precision.unwrap_or(Precision::Fp32),
        autosave_secs: a.autosave_secs,
        ..Default::default()
    };
    if let Some(m) = a.model {
        o.model = m;
    }
    pix2pixhd::app::run(o)
}

#[derive(clap::Args)]
struct InfoArgs {
    #[command(flatten)]
    model: ModelArgs,
}

fn info(args: &InfoArgs) -> Result<()> {
    println!("pix2pixhd {}", env!("CARGO_PKG_VERSION"));
    println!("{}", pix2pixhd::torch_info::report());
    let m = &args.model;
    if m.model.is_none() && m.config.is_none() && m.preset.is_none() {
        return Ok(());
    }
    let resolved = m.resolve()?;
    let cfg = &resolved.cfg;
    println!("\nmodel configuration:\n{}", cfg.to_json());
    let device = tch::Device::Cpu;
    let g = match &resolved.files.g_weights {
        Some(w) => {
            let (g, report) = GeneratorModel::load(cfg, w, device)?;
            println!("generator weights: {} ({} tensors loaded)", w.display(), report.loaded);
            if !report.ignored_running_stats.is_empty() {
                println!("  ignored {} InstanceNorm running-statistics keys", report.ignored_running_stats.len());
            }
            g
        }
        None => GeneratorModel::random(cfg, device, 0)?,
    };
    println!("G input channels: {}, size base: {}", cfg.g_input_nc(), cfg.size_base());
    println!("G parameters: {}", g.param_count());
    let vs = tch::nn::VarStore::new(device);
    let _d = MultiscaleDiscriminator::from_config(&vs.root(), cfg);
    println!("D parameters (for training): {}", param_count(&vs));
    if cfg.use_features() {
        let vs = tch::nn::VarStore::new(device);
        let _e = Encoder::new(&vs.root(), cfg);
        println!("E parameters: {}", param_count(&vs));
    }
    Ok(())
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        None => edit(EditArgs { device: "auto".into(), autosave_secs: 60, ..Default::default() }),
        Some(Command::Edit(a)) => edit(a),
        Some(Command::Info(a)) => info(&a),
        Some(Command::Bench(a)) => pix2pixhd::bench::run(&a),
        Some(Command::Synth(a)) => pix2pixhd::data::synth::run(&a),
        Some(Command::Train(a)) => pix2pixhd::train::run::run(&a),
        Some(Command::Encode(a)) => pix2pixhd::encode_cmd::run(&a),
        Some(Command::Render(a)) => pix2pixhd::render_cmd::run(&a),
        Some(Command::EvalStyles(a)) => pix2pixhd::eval_styles::run(&a),
        Some(Command::EvalModel(a)) => pix2pixhd::eval_model::run(&a),
    }
}

//! The command line: one file per subcommand, each a clap struct whose flags it turns into library calls, and the
//! printing of what comes back. All clap code is here; nothing below this module knows about it.

pub mod args;
pub mod bench;
pub mod edit;
pub mod encode;
pub mod eval_model;
pub mod eval_styles;
pub mod fidelity;
pub mod info;
pub mod render;
pub mod synth;
pub mod train;

use anyhow::Result;
use clap::{Parser, Subcommand};

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
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Open the editor (the default with no subcommand): paint label maps, edit objects, pick styles, render live.
    Edit(edit::EditArgs),
    /// Print the LibTorch version, CUDA availability and GPU; with a model, its configuration and size.
    Info(info::InfoArgs),
    /// Generate a synthetic street-scene data set (label ids, instance ids, photos and style sidecars) in the
    /// pix2pixHD folder layout.
    Synth(synth::SynthArgs),
    /// Train pix2pixHD (G, multiscale D, optionally the style encoder E) on a data set.
    Train(Box<train::TrainArgs>),
    /// Render a label map (+ instance map, + styles) to a photo with a trained generator.
    Render(Box<render::RenderArgs>),
    /// Run a trained encoder over a data set and cluster the per-object styles into clusters.json.
    Encode(encode::EncodeArgs),
    /// Measure style control on a synthetic data set: cluster purity of car colour modes, and render hit rate.
    EvalStyles(eval_styles::EvalStylesArgs),
    /// The quality figures of a model card on held-out scenes: reconstruction L1 vs a class-colour baseline,
    /// colour fidelity per class, and a contact sheet.
    EvalModel(eval_model::EvalModelArgs),
    /// Time the generator's forward pass (or a training iteration, or the editor) here and in the PyTorch
    /// reference.
    Bench(Box<bench::BenchArgs>),
}

/// Runs the command the user gave; no command opens the editor.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        None => edit::run(edit::EditArgs::default()),
        Some(Command::Edit(a)) => edit::run(a),
        Some(Command::Info(a)) => info::run(&a),
        Some(Command::Synth(a)) => synth::run(&a),
        Some(Command::Train(a)) => train::run(&a),
        Some(Command::Render(a)) => render::run(&a),
        Some(Command::Encode(a)) => encode::run(&a),
        Some(Command::EvalStyles(a)) => eval_styles::run(&a),
        Some(Command::EvalModel(a)) => eval_model::run(&a),
        Some(Command::Bench(a)) => bench::run(&a),
    }
}

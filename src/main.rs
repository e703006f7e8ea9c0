//! The `pix2pixhd` command line: one binary for the whole pix2pixHD workflow.

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "pix2pixhd", version, about = "pix2pixHD scene editor and toolkit")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Print the LibTorch version, CUDA availability and, for a model, its configuration and size.
    Info,
    /// Generate a synthetic street-scene data set (label ids, instance ids, photos and style sidecars) in the
    /// pix2pixHD folder layout.
    Synth(pix2pixhd::data::synth::SynthArgs),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        None | Some(Command::Info) => {
            println!("pix2pixhd {}", env!("CARGO_PKG_VERSION"));
        }
        Some(Command::Synth(args)) => pix2pixhd::data::synth::run(&args)?,
    }
    Ok(())
}

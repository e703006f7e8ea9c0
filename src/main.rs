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
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        None | Some(Command::Info) => {
            println!("pix2pixhd {}", env!("CARGO_PKG_VERSION"));
        }
    }
    Ok(())
}

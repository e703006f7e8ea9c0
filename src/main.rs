//! The `pix2pixhd` binary: parses the command line and runs the command (`src/cmd/`).

use clap::Parser;

fn main() -> anyhow::Result<()> {
    pix2pixhd::cmd::run(pix2pixhd::cmd::Cli::parse())
}

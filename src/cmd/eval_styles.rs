//! `pix2pixhd eval-styles`: how well a model's car styles match a synthetic data set's known colour modes
//! (the figures are described in `eval::styles`).

use crate::eval::styles::{StyleEval, StyleReport};
use crate::model::runtime::{ResolvedModel, pick_device};
use crate::render::{Models, PrecisionChoice, Renderer};
use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct EvalStylesArgs {
    /// A run folder trained with --instance-feat and encoded (clusters.json, latest_net_E).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// A data set written by `pix2pixhd synth` (train_* and test_* with their _meta sidecars).
    #[arg(long, value_name = "DIR")]
    pub dataroot: PathBuf,
    /// Use at most this many scenes of each split.
    #[arg(long)]
    pub max_scenes: Option<usize>,
    /// Smallest test car (pixels) that counts.
    #[arg(long, default_value_t = 200)]
    pub min_pixels: usize,
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Measure the editor's quick preview instead of the full render: the model folder's preview generator
    /// (`preview/`; without one, the model itself at a smaller size, as in the editor) on each test scene shrunk as
    /// the editor shrinks it (512×256 for a 2048×1024 scene with the bundled model), with the model's E and
    /// clusters. The cars are the same (`--min-pixels` counts at the scene's own size; a car that the shrinking
    /// loses is left out and counted); the reconstruction figure is not measured (the preview never encodes a
    /// photo).
    #[arg(long)]
    pub preview: bool,
    /// The inference path, as for `render` (fp32: the exact reference computation).
    #[arg(long, value_enum, default_value_t = PrecisionChoice::Auto)]
    pub precision: PrecisionChoice,
}

pub fn run(args: &EvalStylesArgs) -> Result<()> {
    evaluate(args).map(|_| ())
}

/// Opens the model and measures (printing as it goes).
pub fn evaluate(args: &EvalStylesArgs) -> Result<StyleReport> {
    let model = ResolvedModel::open(&args.model)?;
    let device = pick_device(&args.device)?;
    let models = if args.preview {
        Models::open(&model, device, args.precision)?
    } else {
        Renderer::open(&model, device, args.precision)?.into()
    };
    println!("inference: {}", models.full.chosen.note);
    crate::eval::styles::evaluate(&StyleEval {
        models: &models,
        dataroot: &args.dataroot,
        max_scenes: args.max_scenes,
        min_pixels: args.min_pixels,
        preview: args.preview,
    })
}

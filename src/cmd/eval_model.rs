//! `pix2pixhd eval-model`: the quality figures of a model card on held-out scenes (described in `eval::model`).

use crate::eval::model::{ModelEval, Report};
use crate::model::runtime::{Precision, ResolvedModel, pick_device};
use crate::render::PrecisionChoice;
use crate::render::{Renderer, bundled_model_dir};
use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct EvalModelArgs {
    /// A run folder (default: the bundled model).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// A data set with train_* and test_* folders (photos needed), e.g. made by `pix2pixhd synth`.
    #[arg(long, value_name = "DIR")]
    pub dataroot: PathBuf,
    /// How many test scenes to evaluate (in name order).
    #[arg(long, default_value_t = 50)]
    pub scenes: usize,
    /// How many training scenes the baseline's class colours are averaged over.
    #[arg(long, default_value_t = 200)]
    pub train_scenes: usize,
    /// Write a contact sheet (label | render | real, one row per scene) here.
    #[arg(long, value_name = "PNG")]
    pub sheet: Option<PathBuf>,
    /// Rows of the contact sheet.
    #[arg(long, default_value_t = 10)]
    pub sheet_rows: usize,
    /// Width of each contact-sheet tile in pixels.
    #[arg(long, default_value_t = 512)]
    pub tile_width: u32,
    /// Write the figures as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Seed of the random styles.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also measure the texture floor, what no renderer can beat: re-draw every test photo with N other texture seeds
    /// (as `synth --texture-seed` does: same labels, colours and lighting, other texture and in-region details such
    /// as window grids and lane dashes) and compare. Needs a data set made by `pix2pixhd synth` (its test_meta/
    /// sidecars); about 0.5 s per re-drawn 2048x1024 photo. 0: off.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub texture_floor: usize,
    #[arg(long, default_value = "auto")]
    pub device: String,
}

pub fn run(args: &EvalModelArgs) -> Result<()> {
    let report = evaluate(args)?;
    print_report(&report);
    if let Some(path) = &args.sheet
        && report.scenes > 0
        && args.sheet_rows > 0
    {
        println!("contact sheet (label | render | real): {}", path.display());
    }
    if let Some(path) = &args.json {
        println!("figures: {}", path.display());
    }
    Ok(())
}

/// Opens the model and computes the figures, writing the contact sheet and the JSON file where `args` asks.
pub fn evaluate(args: &EvalModelArgs) -> Result<Report> {
    let dir = args.model.clone().unwrap_or_else(bundled_model_dir);
    let renderer = Renderer::open(
        &ResolvedModel::open(&dir)?,
        pick_device(&args.device)?,
        PrecisionChoice::Fixed(Precision::Fp32),
    )?;
    crate::eval::model::evaluate(&ModelEval {
        renderer: &renderer,
        dataroot: &args.dataroot,
        scenes: args.scenes,
        train_scenes: args.train_scenes,
        sheet: args.sheet.as_deref(),
        sheet_rows: args.sheet_rows,
        tile_width: args.tile_width,
        json: args.json.as_deref(),
        seed: args.seed,
        texture_floor: args.texture_floor,
    })
}

fn print_report(report: &Report) {
    let (w0, h0) = (report.width, report.height);
    println!("{} test scenes at {}x{}, model {}", report.scenes, w0, h0, report.model);
    println!(
        "mean L1 (0..1): encoded styles {:.4}, random styles {:.4}, class-mean baseline {:.4} (ratio {:.2})",
        report.l1_encoded,
        report.l1_random_styles,
        report.l1_baseline,
        report.l1_encoded / report.l1_baseline
    );
    println!(
        "  for scale: each region painted its own true mean colour (flat, no texture) {:.4} (ratio {:.2})",
        report.l1_region_oracle,
        report.l1_region_oracle / report.l1_baseline
    );
    println!("colour fidelity (mean colour per class, random styles):");
    println!("{:<16} {:>10} {:>20} {:>20} {:>7}", "class", "pixels", "real", "rendered", "error");
    for f in report.fidelity.values() {
        let fmt = |c: [f64; 3]| format!("({:.0}, {:.0}, {:.0})", c[0], c[1], c[2]);
        println!(
            "{:<16} {:>10} {:>20} {:>20} {:>7.1}",
            f.name,
            f.pixels,
            fmt(f.real_rgb),
            fmt(f.rendered_rgb),
            f.error
        );
    }
    println!("mean L1 per class (0..1): where the reconstruction's error is, next to the flat and baseline pictures");
    println!(
        "{:<16} {:>9} {:>7} {:>9} {:>7} {:>9} {:>7}",
        "class", "encoded", "share", "baseline", "flat", "floor", "ratio"
    );
    for c in report.l1_by_class.values() {
        println!(
            "{:<16} {:>9.4} {:>6.1}% {:>9.4} {:>7.4} {:>9} {:>7.2}",
            c.name,
            c.encoded,
            100.0 * c.encoded_share,
            c.baseline,
            c.region_oracle,
            c.floor.map_or("-".to_string(), |f| format!("{f:.4}")),
            c.encoded / c.baseline.max(1e-9)
        );
    }
    if let Some(t) = &report.texture_floor {
        let ratio = |v: f64| v / report.l1_baseline;
        println!(
            "texture floor ({} re-drawings of each test photo: same labels and colours, other texture and details):",
            t.samples
        );
        println!(
            "  a perfect generator (a re-drawing of the photo) scores {:.4} (ratio {:.2}), {:.4} (ratio {:.2}) with each \
             region at the photo's own mean colour; no renderer that sees the label map and the colours, not the \
             photo, scores below {:.4} (ratio {:.2})",
            t.l1_redrawn,
            ratio(t.l1_redrawn),
            t.l1_redrawn_region_means,
            ratio(t.l1_redrawn_region_means),
            t.l1_lower_bound,
            ratio(t.l1_lower_bound)
        );
        println!(
            "  the re-drawings' per-pixel median, knowing what the labels and colours tell, scores {:.4} (ratio {:.2}); \
             with each region at the photo's own mean colour {:.4} (ratio {:.2})",
            t.l1_median,
            ratio(t.l1_median),
            t.l1_median_region_means,
            ratio(t.l1_median_region_means)
        );
    }
}

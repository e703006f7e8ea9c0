//! `pix2pixhd eval-model`: the quality figures of a model card, on held-out scenes of a data set.
//!
//! - Reconstruction: each test scene rendered with the encoder run on its real photo (the reference's
//!   `use_encoded_image`); mean L1 error to the real photo, next to a naive baseline that paints every pixel its
//!   class's mean training colour.
//! - Colour fidelity per class: scenes rendered with seeded random styles; the mean colour of each class's rendered
//!   pixels against its real pixels.
//! - A contact sheet of the first scenes: label colours | render (random styles) | real photo.

use crate::cli::ModelArgs;
use crate::data::dataset::{Dataset, DatasetOpts, Layout};
use crate::features::StyleSpec;
use crate::labels;
use crate::model::checkpoint::write_atomically;
use crate::model::runtime::{Precision, pick_device};
use crate::render::Renderer;
use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::collections::BTreeMap;
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
    #[arg(long, default_value = "auto")]
    pub device: String,
}

#[derive(Debug, Serialize, Default)]
pub struct ClassFidelity {
    pub name: String,
    pub pixels: u64,
    pub real_rgb: [f64; 3],
    pub rendered_rgb: [f64; 3],
    /// Mean absolute difference of the two mean colours over the channels, in 0..255.
    pub error: f64,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub model: String,
    pub scenes: usize,
    pub width: usize,
    pub height: usize,
    /// Mean absolute error per channel, photos in 0..1.
    pub l1_encoded: f64,
    pub l1_baseline: f64,
    /// Every region (class and instance id) painted its own mean real colour: what a renderer that gets every
    /// region's colour exactly right, but no texture or shading inside it, scores.
    pub l1_region_oracle: f64,
    pub l1_random_styles: f64,
    pub fidelity: BTreeMap<u8, ClassFidelity>,
}

fn bar(n: usize, what: &str) -> ProgressBar {
    let b = ProgressBar::new(n as u64);
    b.set_style(ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} {per_sec} ETA {eta}").expect("template"));
    b.set_message(what.to_string());
    b
}

fn l1(a: &[u8], b: &[u8]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| (f64::from(x) - f64::from(y)).abs()).sum::<f64>() / (a.len() as f64 * 255.0)
}

/// Nearest-neighbour for labels would alias; the sheet is for looking at, so a box filter on RGB is right.
/// Each pixel replaced by the mean colour of its region (same class and instance id) in `photo`.
pub fn region_means(label: &[u8], inst: &[u32], photo: &[u8]) -> Vec<u8> {
    let mut sums: std::collections::HashMap<(u8, u32), [f64; 4]> = std::collections::HashMap::new();
    for (p, (&c, &i)) in label.iter().zip(inst).enumerate() {
        let e = sums.entry((c, i)).or_default();
        for ch in 0..3 {
            e[ch] += f64::from(photo[3 * p + ch]);
        }
        e[3] += 1.0;
    }
    label
        .iter()
        .zip(inst)
        .flat_map(|(&c, &i)| {
            let e = sums[&(c, i)];
            [0, 1, 2].map(|ch| (e[ch] / e[3]).round() as u8)
        })
        .collect()
}

fn tile(rgb: &[u8], w: usize, h: usize, tw: u32) -> image::RgbImage {
    let img = image::RgbImage::from_raw(w as u32, h as u32, rgb.to_vec()).expect("size checked");
    let th = (tw as usize * h / w).max(1) as u32;
    image::imageops::resize(&img, tw, th, image::imageops::FilterType::Triangle)
}

pub fn run(args: &EvalModelArgs) -> Result<()> {
    let dir = args.model.clone().unwrap_or_else(crate::render_cmd::bundled_model_dir);
    let model = ModelArgs { model: Some(dir.clone()), ..Default::default() }.resolve()?;
    let device = pick_device(&args.device)?;
    let r = Renderer::open(&model, device, Precision::Fp32)?;
    if model.cfg.use_features() && r.e.is_none() {
        bail!("{} has no encoder (latest_net_E): reconstruction needs it", dir.display());
    }
    let opts = DatasetOpts { max_dataset_size: Some(args.train_scenes), ..DatasetOpts::for_model(&model.cfg) };
    let train = Dataset::open(&args.dataroot, "train", Layout::Auto, opts)?;
    let opts = DatasetOpts { max_dataset_size: Some(args.scenes), ..DatasetOpts::for_model(&model.cfg) };
    let test = Dataset::open(&args.dataroot, "test", Layout::Auto, opts)?;

    // The baseline's colours: each class's mean over the training photos.
    let mut sums = vec![[0f64; 4]; 256];
    let b = bar(train.len(), "class colours");
    for i in 0..train.len() {
        let s = train.load(i)?;
        let img = s.image.as_ref().context("training photos are needed")?;
        for (p, &c) in s.label.iter().enumerate() {
            let e = &mut sums[c as usize];
            e[0] += f64::from(img[3 * p]);
            e[1] += f64::from(img[3 * p + 1]);
            e[2] += f64::from(img[3 * p + 2]);
            e[3] += 1.0;
        }
        b.inc(1);
    }
    b.finish_and_clear();
    let mean_of = |c: u8| {
        let e = sums[c as usize];
        if e[3] == 0.0 { [0u8; 3] } else { [(e[0] / e[3]) as u8, (e[1] / e[3]) as u8, (e[2] / e[3]) as u8] }
    };

    let (mut enc_l1, mut base_l1, mut rand_l1, mut oracle_l1) = (0.0, 0.0, 0.0, 0.0);
    let mut fid = vec![[0f64; 7]; 256];
    let mut rows: Vec<[image::RgbImage; 3]> = Vec::new();
    let (mut w0, mut h0) = (0, 0);
    let b = bar(test.len(), "test scenes");
    for i in 0..test.len() {
        let s = test.load(i)?;
        let (w, h) = (s.width, s.height);
        (w0, h0) = (w, h);
        let photo = s.image.as_ref().context("test photos are needed")?;
        let inst = s.inst.clone().unwrap_or_else(|| s.label.iter().map(|&c| u32::from(c)).collect());
        let encoded = r.render(&s.label, &inst, (w, h), &StyleSpec::default(), Some(photo))?;
        enc_l1 += l1(&encoded, photo);
        let baseline: Vec<u8> = s.label.iter().flat_map(|&c| mean_of(c)).collect();
        base_l1 += l1(&baseline, photo);
        oracle_l1 += l1(&region_means(&s.label, &inst, photo), photo);
        let spec = StyleSpec { seed: args.seed.wrapping_add(i as u64), ..Default::default() };
        let random = r.render(&s.label, &inst, (w, h), &spec, None)?;
        rand_l1 += l1(&random, photo);
        for (p, &c) in s.label.iter().enumerate() {
            let f = &mut fid[c as usize];
            for ch in 0..3 {
                f[ch] += f64::from(photo[3 * p + ch]);
                f[3 + ch] += f64::from(random[3 * p + ch]);
            }
            f[6] += 1.0;
        }
        if rows.len() < args.sheet_rows && args.sheet.is_some() {
            let colours: Vec<u8> = s.label.iter().flat_map(|&c| labels::color(c)).collect();
            rows.push([
                tile(&colours, w, h, args.tile_width),
                tile(&random, w, h, args.tile_width),
                tile(photo, w, h, args.tile_width),
            ]);
        }
        b.inc(1);
    }
    b.finish_and_clear();
    let n = test.len().max(1) as f64;
    let mut fidelity = BTreeMap::new();
    for (c, f) in fid.iter().enumerate() {
        if f[6] == 0.0 {
            continue;
        }
        let real = [f[0] / f[6], f[1] / f[6], f[2] / f[6]];
        let rend = [f[3] / f[6], f[4] / f[6], f[5] / f[6]];
        let error = (0..3).map(|k| (real[k] - rend[k]).abs()).sum::<f64>() / 3.0;
        let name = labels::label(c as u8).map_or("?", |l| l.name).to_string();
        fidelity
            .insert(c as u8, ClassFidelity { name, pixels: f[6] as u64, real_rgb: real, rendered_rgb: rend, error });
    }
    let report = Report {
        model: dir.display().to_string(),
        scenes: test.len(),
        width: w0,
        height: h0,
        l1_encoded: enc_l1 / n,
        l1_baseline: base_l1 / n,
        l1_region_oracle: oracle_l1 / n,
        l1_random_styles: rand_l1 / n,
        fidelity,
    };
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
    if let Some(path) = &args.sheet
        && !rows.is_empty()
    {
        let (tw, th) = (rows[0][0].width(), rows[0][0].height());
        let gap = 4;
        let mut sheet =
            image::RgbImage::from_pixel(3 * tw + 2 * gap, rows.len() as u32 * (th + gap) - gap, [255; 3].into());
        for (y, row) in rows.iter().enumerate() {
            for (x, t) in row.iter().enumerate() {
                image::imageops::replace(
                    &mut sheet,
                    t,
                    i64::from(x as u32 * (tw + gap)),
                    i64::from(y as u32 * (th + gap)),
                );
            }
        }
        write_atomically(path, |tmp| sheet.save_with_format(tmp, image::ImageFormat::Png).map_err(|e| e.to_string()))?;
        println!("contact sheet (label | render | real): {}", path.display());
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        write_atomically(path, |tmp| std::fs::write(tmp, &text).map_err(|e| e.to_string()))?;
        println!("figures: {}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_means_paint_each_class_and_instance_its_own_mean() {
        // Two regions of class 26 told apart by instance id, and one of class 7.
        let label = [26u8, 26, 26, 7];
        let inst = [26000u32, 26000, 26001, 7];
        let photo = [10u8, 20, 30, 30, 40, 50, 200, 200, 200, 1, 2, 3];
        assert_eq!(region_means(&label, &inst, &photo), vec![20, 30, 40, 20, 30, 40, 200, 200, 200, 1, 2, 3]);
        assert_eq!(l1(&region_means(&label, &inst, &photo), &region_means(&label, &inst, &photo)), 0.0);
    }
}

//! The quality figures of a model card (`pix2pixhd eval-model`), on held-out scenes of a data set.
//!
//! - Reconstruction: each test scene rendered with the encoder run on its real photo (the reference's
//!   `use_encoded_image`); mean L1 error to the real photo, next to a naive baseline that paints every pixel its
//!   class's mean training colour.
//! - Colour fidelity per class: scenes rendered with seeded random styles; the mean colour of each class's rendered
//!   pixels against its real pixels.
//! - A contact sheet of the first scenes: label colours | render (random styles) | real photo.
//! - With `--texture-floor N`, on `synth` data: how much of each photo no renderer can predict. Every test scene is
//!   re-drawn with N other texture seeds (same labels, modes, colours, lighting; other noise, grain, setts, bricks,
//!   lit windows, clouds, leaves, window grids, lane dashes). A re-drawing is what a perfect generator would draw
//!   (also scored moved to each region's mean colour in the photo, as the encoder's features could tell it);
//!   half its mean L1 to the photo bounds from below what any renderer that sees the label map and the scene's
//!   colours can score (for such a renderer `f` and an independent re-drawing `X'` of the photo `X`:
//!   `E|X-X'| <= E|X-f| + E|X'-f| = 2 E|X-f|`). The per-pixel median of the re-drawings, moved to each region's mean
//!   colour in the photo (what the encoder's features can tell the generator), estimates the best from above.

use crate::data::dataset::{Dataset, DatasetOpts, Layout};
use crate::features::StyleSpec;
use crate::fs::{write_atomically, write_bytes};
use crate::labels;
use crate::render::Renderer;
use crate::synth::{SynthConfig, generate_scene, read_sidecar};
use anyhow::{Context, Result, bail, ensure};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// What `eval-model` measures: a model on the held-out scenes of a data set, and where it writes what it found.
pub struct ModelEval<'a> {
    pub renderer: &'a Renderer,
    /// A data set with train_* and test_* folders (photos needed), e.g. made by `pix2pixhd synth`.
    pub dataroot: &'a Path,
    /// How many test scenes to evaluate (in name order).
    pub scenes: usize,
    /// How many training scenes the baseline's class colours are averaged over.
    pub train_scenes: usize,
    /// Write a contact sheet (label | render | real, `sheet_rows` rows of tiles `tile_width` wide) here.
    pub sheet: Option<&'a Path>,
    pub sheet_rows: usize,
    pub tile_width: u32,
    /// Write the figures as JSON here.
    pub json: Option<&'a Path>,
    /// Seed of the random styles.
    pub seed: u64,
    /// Re-drawn photos per test scene for the texture floor (0: not measured); needs `synth` sidecars.
    pub texture_floor: usize,
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

/// Mean L1 per channel (0..1) over one class's pixels of all test scenes: where the error is.
#[derive(Debug, Serialize, Default, Clone)]
pub struct ClassL1 {
    pub name: String,
    pub pixels: u64,
    /// The reconstruction (encoder on the real photo).
    pub encoded: f64,
    /// Share of the reconstruction's whole error that falls on this class.
    pub encoded_share: f64,
    pub baseline: f64,
    pub region_oracle: f64,
    /// The texture floor's median with the photo's region means (with `--texture-floor`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floor: Option<f64>,
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
    pub l1_by_class: BTreeMap<u8, ClassL1>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub texture_floor: Option<TextureFloor>,
}

/// What re-drawing the test photos' texture shows (see the module notes). Mean L1 per channel, photos in 0..1.
#[derive(Debug, Serialize, Default, Clone, Copy)]
pub struct TextureFloor {
    /// Re-drawn photos per test scene.
    pub samples: usize,
    /// Mean L1 between a photo and a re-drawing of it: what a perfect generator scores, one that draws photos
    /// exactly as `synth` does from the label map and the colours (a GAN's aim).
    pub l1_redrawn: f64,
    /// Half of that: a lower bound for any renderer that sees the label map and the scene's colours, not the photo.
    pub l1_lower_bound: f64,
    /// A re-drawing moved region by region to the photo's own mean colours: the perfect generator given what the
    /// encoder's features can tell it (the comparison for the reconstruction).
    pub l1_redrawn_region_means: f64,
    /// The per-pixel median of the re-drawings as the render.
    pub l1_median: f64,
    /// The same median with each region (class and instance id) shifted to the photo's own mean colour.
    pub l1_median_region_means: f64,
}

/// The texture-floor figures of one test scene, `[half a re-drawing's L1, median, median with the photo's region
/// means, re-drawing with the photo's region means]`, and the third of those pictures. `flat` is the photo's
/// [`region_means`].
fn texture_floor(
    root: &Path,
    name: &str,
    (label, inst, photo, flat): (&[u8], &[u32], &[u8], &[u8]),
    (w, h): (usize, usize),
    samples: usize,
) -> Result<([f64; 4], Vec<u8>)> {
    let m = read_sidecar(root, "test", name).context("--texture-floor needs a data set made by `pix2pixhd synth`")?;
    let cfg = SynthConfig { width: m.width, height: m.height, seed: m.seed, texture_seed: m.texture_seed };
    let img = root.join("test_img").join(format!("{name}.png"));
    ensure!(
        (m.width as usize, m.height as usize) == (w, h),
        "{}: the sidecar says {}x{}, the photo is {w}x{h}",
        img.display(),
        m.width,
        m.height
    );
    let own = generate_scene(&cfg, m.index);
    ensure!(
        own.label == label && own.rgb == photo,
        "{} is not what this version of `pix2pixhd synth` draws for scene {} of seed {}: write the data set again",
        img.display(),
        m.index,
        m.seed
    );
    let seeds: Vec<u64> = (1..).filter(|&t| t != m.texture_seed).take(samples).collect();
    let draws: Vec<Vec<u8>> =
        seeds.par_iter().map(|&t| generate_scene(&SynthConfig { texture_seed: t, ..cfg }, m.index).rgb).collect();
    let half_pair = draws.iter().map(|d| l1(d, photo)).sum::<f64>() / (2.0 * samples as f64);
    let mut v = vec![0u8; samples];
    let median: Vec<u8> = (0..photo.len())
        .map(|j| {
            for (x, d) in v.iter_mut().zip(&draws) {
                *x = d[j];
            }
            v.sort_unstable();
            let k = samples / 2;
            if samples % 2 == 1 { v[k] } else { (u16::from(v[k - 1]) + u16::from(v[k])).div_ceil(2) as u8 }
        })
        .collect();
    // A picture moved region by region to the photo's own mean colours.
    let to_photo_means = |pic: &[u8]| -> Vec<u8> {
        let have = region_means(label, inst, pic);
        pic.iter()
            .zip(flat.iter().zip(&have))
            .map(|(&x, (&a, &b))| (i16::from(x) + i16::from(a) - i16::from(b)).clamp(0, 255) as u8)
            .collect()
    };
    let redrawn_means = draws.iter().map(|d| l1(&to_photo_means(d), photo)).sum::<f64>() / samples as f64;
    let matched = to_photo_means(&median);
    Ok(([half_pair, l1(&median, photo), l1(&matched, photo), redrawn_means], matched))
}

fn bar(n: usize, what: &str) -> ProgressBar {
    let b = ProgressBar::new(n as u64);
    b.set_style(ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} {per_sec} ETA {eta}").expect("template"));
    b.set_message(what.to_string());
    b
}

/// Adds each pixel's absolute difference (summed over the channels, 0..765) to its class's entry.
fn add_by_class(acc: &mut [f64], label: &[u8], a: &[u8], b: &[u8]) {
    for (p, &c) in label.iter().enumerate() {
        acc[c as usize] +=
            (0..3).map(|k| (i32::from(a[3 * p + k]) - i32::from(b[3 * p + k])).abs()).sum::<i32>() as f64;
    }
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

/// Computes the figures, and writes the contact sheet and the JSON file where `args` asks for them.
pub fn evaluate(args: &ModelEval) -> Result<Report> {
    let r = args.renderer;
    let (dir, cfg) = (&r.source, &r.g.cfg);
    if cfg.use_features() && r.e.is_none() {
        bail!("{} has no encoder (latest_net_E): reconstruction needs it", dir.display());
    }
    let opts = DatasetOpts { max_dataset_size: Some(args.train_scenes), ..DatasetOpts::for_model(cfg) };
    let train = Dataset::open(args.dataroot, "train", Layout::Auto, opts)?;
    let opts = DatasetOpts { max_dataset_size: Some(args.scenes), ..DatasetOpts::for_model(cfg) };
    let test = Dataset::open(args.dataroot, "test", Layout::Auto, opts)?;

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
    let mut floor = [0f64; 4];
    let mut fid = vec![[0f64; 7]; 256];
    // Per class: [encoded, baseline, region oracle, floor] absolute differences.
    let mut by_class = vec![vec![0f64; 256]; 4];
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
        let flat = region_means(&s.label, &inst, photo);
        oracle_l1 += l1(&flat, photo);
        for (acc, picture) in by_class.iter_mut().zip([&encoded, &baseline, &flat]) {
            add_by_class(acc, &s.label, picture, photo);
        }
        if args.texture_floor > 0 {
            let (f, matched) =
                texture_floor(args.dataroot, &s.name, (&s.label, &inst, photo, &flat), (w, h), args.texture_floor)?;
            for (acc, v) in floor.iter_mut().zip(f) {
                *acc += v;
            }
            add_by_class(&mut by_class[3], &s.label, &matched, photo);
        }
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
    let total_encoded: f64 = by_class[0].iter().sum();
    let l1_by_class = fid
        .iter()
        .enumerate()
        .filter(|(_, f)| f[6] > 0.0)
        .map(|(c, f)| {
            let per = |v: f64| v / (f[6] * 3.0 * 255.0);
            let l = ClassL1 {
                name: labels::label(c as u8).map_or("?", |l| l.name).to_string(),
                pixels: f[6] as u64,
                encoded: per(by_class[0][c]),
                encoded_share: by_class[0][c] / total_encoded.max(1.0),
                baseline: per(by_class[1][c]),
                region_oracle: per(by_class[2][c]),
                floor: (args.texture_floor > 0).then(|| per(by_class[3][c])),
            };
            (c as u8, l)
        })
        .collect();
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
        l1_by_class,
        texture_floor: (args.texture_floor > 0).then(|| TextureFloor {
            samples: args.texture_floor,
            l1_redrawn: 2.0 * floor[0] / n,
            l1_lower_bound: floor[0] / n,
            l1_redrawn_region_means: floor[3] / n,
            l1_median: floor[1] / n,
            l1_median_region_means: floor[2] / n,
        }),
    };
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
        write_atomically(path, |tmp| {
            sheet.save_with_format(tmp, image::ImageFormat::Png).map_err(std::io::Error::other)
        })?;
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        write_bytes(path, text.as_bytes())?;
    }
    Ok(report)
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

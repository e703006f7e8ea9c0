//! How well a model's car styles match the synthetic data's known colour modes (`pix2pixhd eval-styles`).
//!
//! Two figures, on a data set made by `pix2pixhd synth` (whose `*_meta/` sidecars name every car's colour mode):
//! - cluster purity over the training cars: each car's encoded feature goes to its nearest car cluster; purity is the
//!   share of cars whose cluster's majority mode is their own mode;
//! - hit rate on test cars: every test scene is rendered once per mode m with all cars set to the cluster a user
//!   would pick for m (of the clusters whose training cars' mean colour is nearest to m, the one with most cars, both
//!   from `clusters.json`); a hit is a car whose rendered mean colour is nearest to mode m.
//!
//! Two more on the same test cars, to tell where colour is lost: the share of cars whose mean colour in the real photo
//! is nearest to their own mode (the ceiling of the hit rate: windows, wheels and shading pull the mean), and the
//! reconstruction hit rate, the same test with each scene rendered from the encoder run on its real photo (the
//! features of the car itself, not a cluster centre).
//!
//! The hit rate is also broken down by car size relative to the frame, with bands whose top one holds the cars the
//! styles test counted at 256×128 (200 pixels or more there, 12,800 at 2048×1024): small cars miss far more often.
//! By the same bands, the encoder's side: the share of test cars whose encoded feature is nearest to a cluster of
//! their own mode (a cluster's mode: the one nearest to its training cars' mean colour, from `clusters.json`), what
//! the encoder makes of a car before any generator.

use crate::data::dataset::{Dataset, DatasetOpts, Layout};
use crate::features::{MIN_REGION_FRACTION, StyleChoice, StyleSpec};
use crate::labels::id;
use crate::model::encoder::Encoder;
use crate::render::Models;
use crate::synth::{CAR_MODES, nearest_mode, read_sidecar as meta};
use anyhow::{Context, Result, bail};
use indicatif::ProgressBar;
use std::collections::BTreeMap;
use std::path::Path;
use tch::{Kind, Tensor};

/// What `eval-styles` measures: a model trained with instance features and encoded, on a `synth` data set.
pub struct StyleEval<'a> {
    /// The model with its encoder and clusters (and, for `preview`, its preview generator).
    pub models: &'a Models,
    /// A data set written by `pix2pixhd synth` (train_* and test_* with their _meta sidecars).
    pub dataroot: &'a Path,
    /// Use at most this many scenes of each split.
    pub max_scenes: Option<usize>,
    /// Smallest test car (pixels, at the scene's own size) that counts.
    pub min_pixels: usize,
    /// Score the editor's quick preview instead of the full render (no reconstruction figure then).
    pub preview: bool,
}

fn open(root: &Path, phase: &str, max: Option<usize>, cfg: &crate::model::ModelConfig) -> Result<Dataset> {
    let opts = DatasetOpts { max_dataset_size: max, ..DatasetOpts::for_model(cfg) };
    Ok(Dataset::open(root, phase, Layout::Folders, opts)?)
}

/// The test-car renders made with one mode's cluster.
#[derive(Default)]
struct ModeRenders {
    n: usize,
    /// Sum of the rendered cars' mean colours.
    colour_sum: [f64; 3],
    /// How many renders came out nearest to each mode.
    landed: BTreeMap<usize, usize>,
}

impl ModeRenders {
    /// Counts one render and returns the mode its mean colour is nearest to.
    fn add(&mut self, mean: [f32; 3]) -> usize {
        self.n += 1;
        for (acc, v) in self.colour_sum.iter_mut().zip(mean) {
            *acc += f64::from(v);
        }
        let nearest = nearest_mode(&CAR_MODES, mean).expect("modes");
        *self.landed.entry(nearest).or_default() += 1;
        nearest
    }

    fn hits(&self, mode: usize) -> usize {
        self.landed.get(&mode).copied().unwrap_or(0)
    }
}

/// What `eval-styles` measured (it prints the same, with the cluster table).
#[derive(Debug, Clone, PartialEq)]
pub struct StyleReport {
    /// Training cars counted for the purity.
    pub train_cars: usize,
    pub purity: f64,
    /// Per mode index that has a cluster of its own: (hits, car renders).
    pub hits: BTreeMap<usize, (usize, usize)>,
    pub hit_rate: f64,
    /// Test cars whose mean real colour is nearest to their own mode, and how many cars were tested.
    pub real_hits: (usize, usize),
    /// Test cars rendered from their own encoded features whose mean colour is nearest to their own mode.
    pub reconstruction_hits: (usize, usize),
    /// (hits, car renders) per size band of [`SIZE_BANDS`], smallest first; they add up to the hit rate's.
    pub hits_by_size: [(usize, usize); 3],
    /// Per size band: test cars whose encoded feature is nearest to a cluster of their own mode (by the cluster's mean
    /// training colour), and how many test cars there were.
    pub encoder_hits_by_size: [(usize, usize); 3],
    /// With `--preview`: the size of the last test scene's preview, and how many test cars the shrinking lost.
    pub preview: Option<((u32, u32), usize)>,
}

/// E's features of a photo, pooled per instance, `[1, feat_num, h, w]` on the CPU.
fn encode_photo(enc: &Encoder, device: tch::Device, rgb: &[u8], inst: &[u32], (w, h): (usize, usize)) -> Tensor {
    let (w, h) = (w as i64, h as i64);
    let img = Tensor::from_slice(rgb).reshape([1, h, w, 3]).permute([0, 3, 1, 2]).to_kind(Kind::Float) / 127.5 - 1.0;
    let ids: Vec<i64> = inst.iter().map(|&v| i64::from(v)).collect();
    let ids = Tensor::from_slice(&ids).reshape([1, 1, h, w]);
    tch::no_grad(|| enc.forward(&img.to_device(device), &ids.to_device(device))).to_device(tch::Device::Cpu)
}

/// The index of the centre nearest to the feature of instance `id` (read at one of its pixels), or None when the
/// instance has no pixel.
fn nearest_centre(feat: &Tensor, inst: &[u32], width: usize, id: u32, centres: &[Vec<f32>]) -> Option<usize> {
    let p = inst.iter().position(|&v| v == id)?;
    let (x, y) = ((p % width) as i64, (p / width) as i64);
    let f: Vec<f32> = (0..feat.size()[1]).map(|ch| feat.double_value(&[0, ch, y, x]) as f32).collect();
    let d = |j: usize| centres[j].iter().zip(&f).map(|(u, v)| (u - v).powi(2)).sum::<f32>();
    (0..centres.len()).min_by(|&a, &b| d(a).total_cmp(&d(b)))
}

/// Lower edges of the car size bands, as shares of the frame: 200 px at 256×128 is 1/163.84 (the styles test's
/// smallest car), and 1/655.36 is a quarter of that (3,200 and 12,800 px at 2048×1024).
pub const SIZE_BANDS: [f64; 3] = [0.0, 200.0 / (512.0 * 256.0), 200.0 / (256.0 * 128.0)];

fn size_band(pixels: usize, frame: usize) -> usize {
    let share = pixels as f64 / frame as f64;
    SIZE_BANDS.iter().rposition(|&lo| share >= lo).unwrap_or(0)
}

/// Measures and prints purity and hit rate; see the module documentation.
pub fn evaluate(args: &StyleEval) -> Result<StyleReport> {
    let r = &args.models.full;
    let device = r.device();
    let cfg = &r.g.cfg;
    let clusters = r.clusters.as_ref().context("the model has no clusters.json: run `pix2pixhd encode` first")?;
    let (_, enc) = r.e.as_ref().context("the model has no encoder (latest_net_E)")?;
    let car = u32::from(id::CAR);
    let car_clusters = clusters.classes.get(&car).context("the clusters have no car class")?;
    let centres = &car_clusters.centers;
    // Each cluster's colour mode by the mean colour of its training cars (over all the scenes `encode` saw).
    let mode_of_cluster: Vec<Option<usize>> =
        car_clusters.mean_rgb.iter().map(|c| nearest_mode(&CAR_MODES, c.map(f32::from))).collect();
    let k = centres.len();

    // 1. Purity over the training cars that encode would cluster.
    let train = open(args.dataroot, "train", args.max_scenes, cfg)?;
    let mut table = vec![vec![0usize; CAR_MODES.len()]; k];
    let bar = ProgressBar::new(train.len() as u64);
    for i in 0..train.len() {
        let s = train.load(i)?;
        let m = meta(args.dataroot, "train", &s.name)?;
        let rgb = s.image.as_ref().context("training photos are needed")?;
        let inst = s.inst.as_ref().context("instance maps are needed")?;
        let feat = encode_photo(enc, device, rgb, inst, (s.width, s.height));
        for c in m.instances.iter().filter(|c| u32::from(c.class) == car) {
            if (c.pixels as f64) / ((s.width * s.height) as f64) <= MIN_REGION_FRACTION {
                continue;
            }
            let Some(nearest) = nearest_centre(&feat, inst, s.width, c.id, centres) else { continue };
            table[nearest][c.mode_index] += 1;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let total: usize = table.iter().flatten().sum();
    if total == 0 {
        bail!("no training car is larger than 1/64 of its image");
    }
    let majority: Vec<usize> = table.iter().map(|row| (0..row.len()).max_by_key(|&m| row[m]).expect("modes")).collect();
    let pure: usize = table.iter().zip(&majority).map(|(row, &m)| row[m]).sum();
    println!("car clusters vs synthetic colour modes ({total} training cars):");
    for (j, row) in table.iter().enumerate() {
        let parts: Vec<String> = row
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(m, n)| format!("{} {n}", CAR_MODES[m].name))
            .collect();
        println!("  cluster {j}: {}", parts.join(", "));
    }
    let purity = pure as f64 / total as f64;
    println!("cluster purity: {purity:.3}");

    // With --preview: whether it is a preview generator of its own (else the model, shrunk more).
    let preview = args.preview.then_some(args.models.preview.is_some());
    let mut lost = 0usize;
    let mut preview_size = None;

    // 2. Hit rate: each mode through the cluster a user would pick for it (see `clusters_for_modes`).
    let cluster_of_mode = clusters_for_modes(&mode_of_cluster, &car_clusters.counts);
    let test = open(args.dataroot, "test", args.max_scenes, cfg)?;
    let mut renders = BTreeMap::<usize, ModeRenders>::new();
    let (mut real_hits, mut rec_hits) = ((0usize, 0usize), (0usize, 0usize));
    let mut by_size = [(0usize, 0usize); 3];
    let mut enc_by_size = [(0usize, 0usize); 3];
    let bar = ProgressBar::new((test.len() * (cluster_of_mode.len() + 1)) as u64);
    for i in 0..test.len() {
        let s = test.load(i)?;
        let m = meta(args.dataroot, "test", &s.name)?;
        let inst = s.inst.as_ref().context("instance maps are needed")?;
        let cars: Vec<_> =
            m.instances.iter().filter(|c| u32::from(c.class) == car && c.pixels as usize >= args.min_pixels).collect();
        let photo = s.image.as_ref().context("test photos are needed")?;
        let encoded = match preview {
            None => Some(r.render(&s.label, inst, (s.width, s.height), &StyleSpec::default(), Some(photo))?),
            Some(_) => None,
        };
        let feat = encode_photo(enc, device, photo, inst, (s.width, s.height));
        for c in &cars {
            let own = |img: &[u8]| nearest_mode(&CAR_MODES, mean_colour(img, inst, c.id)) == Some(c.mode_index);
            real_hits = (real_hits.0 + usize::from(own(photo)), real_hits.1 + 1);
            if let Some(encoded) = &encoded {
                rec_hits = (rec_hits.0 + usize::from(own(encoded)), rec_hits.1 + 1);
            }
            let right = nearest_centre(&feat, inst, s.width, c.id, centres)
                .is_some_and(|j| mode_of_cluster[j] == Some(c.mode_index));
            let band = &mut enc_by_size[size_band(c.pixels as usize, s.width * s.height)];
            *band = (band.0 + usize::from(right), band.1 + 1);
        }
        bar.inc(1);
        // The maps the renders are made at: the scene's own, or shrunk as the editor's preview shrinks them.
        let (renderer, small) = match preview {
            None => (r, None),
            Some(_) => {
                let size = (s.width as u32, s.height as u32);
                (args.models.preview_renderer(), Some(args.models.preview_maps(&s.label, inst, size)))
            }
        };
        let (rw, rh, rlabel, rinst): (usize, usize, &[u8], &[u32]) = match &small {
            Some((w, h, l, i)) => (*w as usize, *h as usize, l, i),
            None => (s.width, s.height, &s.label, inst),
        };
        preview_size = small.as_ref().map(|(w, h, ..)| (*w, *h));
        let kept: Vec<_> = cars.iter().filter(|c| rinst.contains(&c.id)).collect();
        lost += cars.len() - kept.len();
        for (&mode, &cluster) in &cluster_of_mode {
            let mut spec = StyleSpec { seed: i as u64, ..Default::default() };
            spec.by_class.insert(car, StyleChoice::Cluster(cluster));
            let out = renderer.render(rlabel, rinst, (rw, rh), &spec, None)?;
            for c in &kept {
                let landed = renders.entry(mode).or_default().add(mean_colour(&out, rinst, c.id));
                let band = &mut by_size[size_band(c.pixels as usize, s.width * s.height)];
                *band = (band.0 + usize::from(landed == mode), band.1 + 1);
            }
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let hits: BTreeMap<usize, (usize, usize)> = renders.iter().map(|(&m, r)| (m, (r.hits(m), r.n))).collect();
    let hit: usize = hits.values().map(|h| h.0).sum();
    let trials: usize = hits.values().map(|h| h.1).sum();
    if let Some(own) = preview {
        let which = if own { "the preview generator" } else { "the model (no preview generator)" };
        let size = preview_size.map_or(String::new(), |(w, h)| format!(" at {w}×{h}"));
        println!("preview: {which}{size}; {lost} test cars lost by the shrinking left out");
    }
    println!(
        "rendering test cars with the cluster of mode m ({trials} car renders, cars of >= {} px):",
        args.min_pixels
    );
    for (m, r) in &renders {
        let c = r.colour_sum.map(|v| (v / r.n as f64).round() as i64);
        let misses: Vec<String> =
            r.landed.iter().filter(|(j, _)| *j != m).map(|(j, k)| format!("{} {k}", CAR_MODES[*j].name)).collect();
        let misses = if misses.is_empty() { String::new() } else { format!("; missed to {}", misses.join(", ")) };
        println!(
            "  {:<7} (cluster {}): {}/{}, mean rendered colour {c:?} (mode colour {:?}){misses}",
            CAR_MODES[*m].name,
            cluster_of_mode[m],
            r.hits(*m),
            r.n,
            CAR_MODES[*m].rgb
        );
    }
    let missing: Vec<&str> =
        (0..CAR_MODES.len()).filter(|m| !cluster_of_mode.contains_key(m)).map(|m| CAR_MODES[m].name).collect();
    if !missing.is_empty() {
        println!("  modes with no cluster of their own: {}", missing.join(", "));
    }
    let share = |h: (usize, usize)| if h.1 == 0 { 0.0 } else { h.0 as f64 / h.1 as f64 };
    let hit_rate = share((hit, trials));
    println!("hit rate: {hit_rate:.3}");
    let (a, b) = (1.0 / SIZE_BANDS[1], 1.0 / SIZE_BANDS[2]);
    let names = [format!("below 1/{a:.0}"), format!("1/{a:.0} to 1/{b:.0}"), format!("1/{b:.0} or more")];
    let bands = |b: &[(usize, usize); 3]| -> String {
        let v: Vec<String> =
            b.iter().zip(&names).map(|(&h, n)| format!("{n} {}/{} ({:.3})", h.0, h.1, share(h))).collect();
        v.join(", ")
    };
    println!(
        "hit rate by car size as a share of the frame (the last band: the cars the styles test counted at 256x128): {}",
        bands(&by_size)
    );
    println!(
        "test cars whose encoded feature is nearest a cluster of their own mode, by the same sizes: {}",
        bands(&enc_by_size)
    );
    let reconstruction = if preview.is_some() {
        "not measured with --preview".to_string()
    } else {
        format!("{}/{} ({:.3})", rec_hits.0, rec_hits.1, share(rec_hits))
    };
    println!(
        "test cars nearest to their own mode: in the real photo {}/{} ({:.3}), rendered from their own encoded \
         features {reconstruction}",
        real_hits.0,
        real_hits.1,
        share(real_hits),
    );
    Ok(StyleReport {
        train_cars: total,
        purity,
        hits,
        hit_rate,
        real_hits,
        reconstruction_hits: rec_hits,
        hits_by_size: by_size,
        encoder_hits_by_size: enc_by_size,
        preview: preview.as_ref().and(preview_size).map(|size| (size, lost)),
    })
}

/// For each colour mode, the cluster that stands for it in the hit rate: among the clusters whose training cars'
/// mean colour is nearest to the mode (the swatch the editor shows), the one holding most training cars, both as
/// `clusters.json` has them (every car `encode` saw); the lower index on a tie. Empty clusters stand for nothing.
fn clusters_for_modes(mode_of_cluster: &[Option<usize>], counts: &[usize]) -> BTreeMap<usize, usize> {
    let mut chosen: BTreeMap<usize, usize> = BTreeMap::new();
    for (j, (&mode, &n)) in mode_of_cluster.iter().zip(counts).enumerate() {
        let Some(m) = mode else { continue };
        if n > 0 && chosen.get(&m).is_none_or(|&old| n > counts[old]) {
            chosen.insert(m, j);
        }
    }
    chosen
}

/// The mean colour of the pixels of instance `id` in an RGB image (0..255 per channel; black for an empty instance).
fn mean_colour(rgb: &[u8], inst: &[u32], id: u32) -> [f32; 3] {
    let mut sum = [0f64; 3];
    let mut n = 0usize;
    for (p, _) in inst.iter().enumerate().filter(|(_, v)| **v == id) {
        for (ch, acc) in sum.iter_mut().enumerate() {
            *acc += f64::from(rgb[3 * p + ch]);
        }
        n += 1;
    }
    sum.map(|v| if n == 0 { 0.0 } else { (v / n as f64) as f32 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_bands_split_at_the_styles_test_car_size() {
        let frame = 2048 * 1024;
        assert_eq!(size_band(200, frame), 0);
        assert_eq!(size_band(3199, frame), 0);
        assert_eq!(size_band(3200, frame), 1);
        assert_eq!(size_band(12_799, frame), 1);
        assert_eq!(size_band(12_800, frame), 2);
        // At 256×128 the top band starts at the styles test's 200 pixels.
        assert_eq!(size_band(199, 256 * 128), 1);
        assert_eq!(size_band(200, 256 * 128), 2);
    }

    #[test]
    fn each_mode_is_rendered_with_its_largest_cluster() {
        // Clusters 0..6: red, white (7 cars), white (15), empty white, none, white (15, a tie), red (30).
        let modes = [Some(0), Some(3), Some(3), Some(3), None, Some(3), Some(0)];
        let counts = [29, 7, 15, 0, 12, 15, 30];
        let chosen = clusters_for_modes(&modes, &counts);
        assert_eq!(chosen, BTreeMap::from([(0, 6), (3, 2)]));
        // A mode whose only cluster is empty has none.
        assert!(clusters_for_modes(&[Some(1)], &[0]).is_empty());
    }
}

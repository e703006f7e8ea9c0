//! `pix2pixhd bench --fidelity`: how far the renders of each inference path are from the exact float32 render of
//! the same scene, and which path `--precision auto` picks here.

use super::args::ModelArgs;
use crate::model::fast::InferPath;
use crate::model::runtime::{GeneratorModel, Precision, pick_device};
use crate::render::{PrecisionChoice, Renderer, choose, scene_styles};
use crate::scene::Scene;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::Device;

/// PSNR (dB) and the largest difference (grey levels) between two RGB renders of one size.
pub fn compare(a: &[u8], b: &[u8]) -> (f64, u8) {
    assert_eq!(a.len(), b.len(), "renders of different sizes");
    let (mut se, mut max) = (0f64, 0u8);
    for (&x, &y) in a.iter().zip(b) {
        let d = x.abs_diff(y);
        se += f64::from(d) * f64::from(d);
        max = max.max(d);
    }
    let mse = se / a.len().max(1) as f64;
    (if mse == 0.0 { f64::INFINITY } else { 10.0 * (255.0f64 * 255.0 / mse).log10() }, max)
}

/// The paths compared with the exact one on a device.
fn paths(device: Device) -> Vec<InferPath> {
    let mut p = vec![InferPath::fast(Precision::Fp32), InferPath::fast(Precision::Bf16)];
    if device.is_cuda() {
        p.push(InferPath::fast(Precision::Fp16));
    }
    p
}

pub fn run(margs: &ModelArgs, scenes: &[PathBuf], device: &str) -> Result<()> {
    let device = pick_device(device)?;
    let scenes: Vec<PathBuf> = if scenes.is_empty() { crate::fs::sample_scenes() } else { scenes.to_vec() };
    if scenes.is_empty() {
        bail!("no scenes: give --scenes, or run from the project folder (assets/*.json)");
    }
    let exact = PrecisionChoice::Fixed(Precision::Fp32);
    let mut renderer = if margs.model.is_none() && margs.config.is_given() {
        // A configuration alone: its seeded random weights (seed 0), no features.
        let cfg = margs.resolve()?.cfg;
        if cfg.use_features() {
            bail!("--fidelity with a configuration alone needs a model without features (no --instance-feat)");
        }
        let mut g = GeneratorModel::random(&cfg, device, 0)?;
        let chosen = choose(&mut g, exact);
        println!("model: {:?} G, ngf {}, seeded random weights", cfg.net_g, cfg.ngf);
        Renderer { g, e: None, clusters: None, source: PathBuf::from("(random weights)"), chosen }
    } else {
        let model = margs.resolve_or_bundled()?;
        println!("model: {}", model.dir().unwrap_or(Path::new(".")).display());
        Renderer::open(&model, device, exact)?
    };
    let snap = renderer.g.snapshot();
    let auto =
        crate::model::memory::guard(|| choose(&mut renderer.g, PrecisionChoice::Auto)).map_err(anyhow::Error::msg)?;
    println!("auto picks: {}", auto.note);
    println!("{:<24} {:<24} {:>9} {:>10} {:>8}", "scene", "path", "PSNR dB", "max levels", "time s");
    let mut worst = Vec::new();
    for path in &scenes {
        let scene = Scene::open(path).with_context(|| format!("cannot open scene {}", path.display()))?;
        let styles = scene_styles(&scene, 0);
        let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into());
        renderer.g.restore(&snap);
        let t = Instant::now();
        let reference = renderer.render_scene(&scene, &styles)?;
        println!("{name:<24} {:<24} {:>9} {:>10} {:>8.2}", InferPath::EXACT.describe(), "-", "-", secs(t));
        for (i, p) in paths(device).into_iter().enumerate() {
            renderer.g.restore(&snap);
            renderer.g.set_path(p);
            let _ = renderer.render_scene(&scene, &styles)?; // warm-up (oneDNN primitives for these sizes)
            let t = Instant::now();
            let rgb = renderer.render_scene(&scene, &styles)?;
            let took = secs(t);
            let (psnr, max) = compare(&rgb, &reference);
            let mark = if p == auto.path { " (auto)" } else { "" };
            println!("{name:<24} {:<24} {psnr:>9.2} {max:>10} {took:>8.2}", format!("{}{mark}", p.describe()));
            if worst.len() <= i {
                worst.push((p, f64::INFINITY));
            }
            worst[i].1 = worst[i].1.min(psnr);
        }
    }
    for (p, db) in worst {
        println!("lowest PSNR of {}: {db:.2} dB", p.describe());
    }
    Ok(())
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

#[cfg(test)]
mod tests {
    #[test]
    fn psnr_of_equal_and_of_off_by_one_renders() {
        assert_eq!(super::compare(&[1, 2, 3], &[1, 2, 3]), (f64::INFINITY, 0));
        let (db, max) = super::compare(&[10; 100], &[11; 100]);
        assert!((db - 48.13).abs() < 0.01 && max == 1, "{db}");
    }
}

//! Helpers shared by the integration tests.
#![allow(dead_code)]

use pix2pixhd::features::{ClassClusters, Clusters};
use pix2pixhd::model::runtime::GeneratorModel;
use pix2pixhd::model::{ModelConfig, NetG};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tch::Tensor;

/// The project's python (made by `make venv`).
pub fn python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python")
}

/// Runs the PyTorch reference once per test binary and returns the folder of its fixtures.
pub fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("reference-fixtures-{}", std::process::id()));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/reference.py");
        let out = std::process::Command::new(python())
            .arg(&script)
            .arg(&dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {} (run `make venv` first): {e}", python().display()));
        assert!(
            out.status.success(),
            "PyTorch reference failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

/// The tensors of a `.pt` file written by `torch.save(dict)`.
pub fn load_io(name: &str) -> HashMap<String, Tensor> {
    let path = fixtures().join(name);
    Tensor::loadz_multi(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).into_iter().collect()
}

pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size(), "shape mismatch");
    (a - b).abs().max().double_value(&[])
}

/// Asserts the parity bound of the foundation issue: max abs error <= 1e-4.
#[track_caller]
pub fn assert_close(what: &str, got: &Tensor, want: &Tensor) {
    let d = max_abs_diff(got, want);
    eprintln!("{what}: max abs error {d:e}");
    assert!(d <= 1e-4, "{what}: max abs error {d:e} > 1e-4");
    // A comparison against an all-zero or constant reference would prove nothing.
    assert!(want.abs().max().double_value(&[]) > 1e-3, "{what}: reference output is degenerate");
}

/// Three 64×32 scenes in the pix2pixHD folder layout: a label map with a road, sky and one car per scene.
pub fn write_dataset(root: &Path) {
    let (w, h) = (64u32, 32u32);
    for d in ["train_label", "train_inst", "train_img"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    for s in 0..3u32 {
        let mut label = image::GrayImage::new(w, h);
        let mut inst = image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::new(w, h);
        let mut img = image::RgbImage::new(w, h);
        for y in 0..h {
            for x in 0..w {
                let (mut c, mut id) = if y < 12 { (23u8, 23u16) } else { (7, 7) };
                if x >= 8 + 16 * s && x < 24 + 16 * s && (14..24).contains(&y) {
                    (c, id) = (26, 26000);
                }
                label.put_pixel(x, y, image::Luma([c]));
                inst.put_pixel(x, y, image::Luma([id]));
                let rgb = match c {
                    23 => [90, 140, 200],
                    7 => [100, 90, 100],
                    _ => [200, 30 + 50 * s as u8, 30],
                };
                img.put_pixel(x, y, image::Rgb([rgb[0], rgb[1], (rgb[2] as u32 + x) as u8]));
            }
        }
        label.save(root.join(format!("train_label/{s:03}.png"))).unwrap();
        inst.save(root.join(format!("train_inst/{s:03}.png"))).unwrap();
        img.save(root.join(format!("train_img/{s:03}.png"))).unwrap();
    }
}

/// `pix2pixhd train` flags for a tiny, fast model on the tiny data set (no VGG weights needed).
pub const TINY_MODEL_FLAGS: &[&str] = &[
    "--resize-or-crop",
    "none",
    "--ngf",
    "8",
    "--n-downsample-global",
    "2",
    "--n-blocks-global",
    "1",
    "--ndf",
    "8",
    "--n-layers-d",
    "2",
    "--no-vgg-loss",
];

/// A tiny random-weight model with style clusters for cars (3 clusters) and roads (2): what the worker loads.
pub fn tiny_model(dir: &Path) -> PathBuf {
    let m = dir.join("model");
    std::fs::create_dir_all(&m).unwrap();
    let cfg = ModelConfig {
        net_g: NetG::Global,
        ngf: 4,
        n_downsample_global: 2,
        n_blocks_global: 1,
        instance_feat: true,
        ..Default::default()
    };
    std::fs::write(m.join("config.json"), cfg.to_json()).unwrap();
    GeneratorModel::random(&cfg, tch::Device::Cpu, 1).unwrap().save(&m.join("latest_net_G.safetensors")).unwrap();
    let class = |n: usize, rgb: [u8; 3]| ClassClusters {
        centers: (0..n).map(|k| vec![k as f32 - 1.0, 0.5, -0.5]).collect(),
        counts: vec![5; n],
        mean_rgb: vec![rgb; n],
    };
    let classes = BTreeMap::from([(26, class(3, [200, 20, 20])), (7, class(2, [90, 90, 90]))]);
    Clusters { version: 1, feat_num: 3, n_clusters: 3, min_region_fraction: 1.0 / 64.0, classes }
        .save(&m.join("clusters.json"))
        .unwrap();
    m
}

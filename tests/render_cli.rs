//! `encode` and `render` end to end on a tiny model trained in the test: clusters, deterministic renders, style
//! control that stays local, contact sheets, and one-line errors that leave no output file behind.

mod common;

use clap::Parser;
use common::write_dataset;
use pix2pixhd::cmd::render::RenderArgs;
use pix2pixhd::cmd::train::TrainArgs;
use pix2pixhd::features::{CLUSTERS_FILE, Clusters};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

#[derive(Parser)]
enum Cli {
    Train(TrainArgs),
    Render(RenderArgs),
    Encode(pix2pixhd::cmd::encode::EncodeArgs),
    Synth(pix2pixhd::cmd::synth::SynthArgs),
    EvalStyles(pix2pixhd::cmd::eval_styles::EvalStylesArgs),
    EvalModel(pix2pixhd::cmd::eval_model::EvalModelArgs),
}

fn parse(words: &[&str]) -> Cli {
    Cli::parse_from(std::iter::once("x").chain(words.iter().copied()))
}

/// A model with instance features trained for a few steps on the tiny set, encoded to clusters.json; built once.
fn model() -> &'static (PathBuf, PathBuf) {
    static M: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    M.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("render-cli-{}", std::process::id()));
        let data = root.join("data");
        write_dataset(&data);
        let ckpt = root.join("ckpt");
        let (d, c) = (data.to_str().unwrap(), ckpt.to_str().unwrap());
        let mut words = vec![
            "train",
            "--dataroot",
            d,
            "--checkpoints-dir",
            c,
            "--name",
            "feat",
            "--instance-feat",
            "--nef",
            "4",
            "--n-downsample-e",
            "2",
            "--niter",
            "60",
            "--niter-decay",
            "0",
            "--device",
            "cpu",
            "--quiet",
        ];
        words.extend_from_slice(common::TINY_MODEL_FLAGS);
        let Cli::Train(a) = parse(&words) else { unreachable!() };
        pix2pixhd::cmd::train::run(&a).unwrap();
        let dir = ckpt.join("feat");
        let Cli::Encode(e) = parse(&[
            "encode",
            "--model",
            dir.to_str().unwrap(),
            "--dataroot",
            d,
            "--device",
            "cpu",
            "--n-clusters",
            "3",
        ]) else {
            unreachable!()
        };
        pix2pixhd::cmd::encode::run(&e).unwrap();
        (dir, data)
    })
}

fn render(words: &[&str]) -> anyhow::Result<()> {
    let mut v = vec!["render"];
    v.extend_from_slice(words);
    v.extend_from_slice(&["--device", "cpu"]);
    let Cli::Render(a) = parse(&v) else { unreachable!() };
    pix2pixhd::cmd::render::run(&a)
}

fn rgb(path: &Path) -> image::RgbImage {
    image::open(path).unwrap().to_rgb8()
}

#[test]
fn encode_writes_clusters_for_the_classes_with_large_regions() {
    let (dir, _) = model();
    let c = Clusters::load(&dir.join(CLUSTERS_FILE)).unwrap();
    assert_eq!(c.feat_num, 3);
    // Every scene has road, sky and one car of 16×10 px (more than 1/64 of 64×32): all three are clustered.
    for class in [7, 23, 26] {
        assert!(c.count(class) >= 1, "class {class} has no clusters");
    }
    assert_eq!(c.classes[&26].counts.iter().sum::<usize>(), 3, "one car per scene");
}

#[test]
fn renders_are_deterministic_and_keep_the_input_size() {
    let (dir, data) = model();
    let out = tempfile::tempdir().unwrap();
    let label = data.join("train_label/001.png");
    let inst = data.join("train_inst/001.png");
    let m = dir.to_str().unwrap();
    let (a, b, c) = (out.path().join("a.png"), out.path().join("b.png"), out.path().join("c.png"));
    for (p, seed) in [(&a, "1"), (&b, "1"), (&c, "2")] {
        render(&[
            label.to_str().unwrap(),
            "--inst",
            inst.to_str().unwrap(),
            "--model",
            m,
            "--seed",
            seed,
            "-o",
            p.to_str().unwrap(),
        ])
        .unwrap();
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap(), "same seed, same bytes");
    assert_eq!(rgb(&a).dimensions(), (64, 32));
    // A label map whose size is not a multiple of the network's base still renders at its own size.
    let odd = out.path().join("odd_label.png");
    image::imageops::crop_imm(&image::open(&label).unwrap().to_luma8(), 0, 0, 50, 27).to_image().save(&odd).unwrap();
    let odd_out = out.path().join("odd.png");
    render(&[odd.to_str().unwrap(), "--model", m, "-o", odd_out.to_str().unwrap()]).unwrap();
    assert_eq!(rgb(&odd_out).dimensions(), (50, 27));
    // Smaller than the network's smallest working size (2 × its base) still renders.
    let tiny = out.path().join("tiny_label.png");
    image::imageops::crop_imm(&image::open(&label).unwrap().to_luma8(), 0, 0, 9, 5).to_image().save(&tiny).unwrap();
    let tiny_out = out.path().join("tiny.png");
    render(&[tiny.to_str().unwrap(), "--model", m, "-o", tiny_out.to_str().unwrap()]).unwrap();
    assert_eq!(rgb(&tiny_out).dimensions(), (9, 5));
}

/// Mean absolute difference of two renders inside and outside a rectangle.
fn diff_in_out(a: &image::RgbImage, b: &image::RgbImage, r: (u32, u32, u32, u32)) -> (f64, f64) {
    let (mut din, mut nin, mut dout, mut nout) = (0.0, 0.0, 0.0, 0.0);
    for (x, y, p) in a.enumerate_pixels() {
        let q = b.get_pixel(x, y);
        let d: f64 = (0..3).map(|c| (p[c] as f64 - q[c] as f64).abs()).sum::<f64>() / 3.0;
        if x >= r.0 && x < r.2 && y >= r.1 && y < r.3 {
            din += d;
            nin += 1.0;
        } else {
            dout += d;
            nout += 1.0;
        }
    }
    (din / nin, dout / nout)
}

#[test]
fn a_style_choice_changes_its_object_far_more_than_the_rest() {
    let (dir, data) = model();
    // A copy of the model whose car clusters are far apart, so that the choice matters even for a barely
    // trained generator.
    let out = tempfile::tempdir().unwrap();
    let m2 = out.path().join("model");
    std::fs::create_dir_all(&m2).unwrap();
    for f in ["config.json", "latest_net_G.safetensors", "latest_net_E.safetensors", CLUSTERS_FILE] {
        std::fs::copy(dir.join(f), m2.join(f)).unwrap();
    }
    let c = Clusters::load(&m2.join(CLUSTERS_FILE)).unwrap();
    let car = &c.classes[&26].centers;
    eprintln!("car clusters: {car:?}");
    // A wide street with one small car: instance norm spreads any change over the whole image a little, so the
    // car is a small part of the picture, as objects are in real scenes.
    let (w, h, car) = (256u32, 128u32, (120u32, 70u32, 136u32, 80u32));
    let mut lab = image::GrayImage::new(w, h);
    let mut ins = image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::new(w, h);
    for (x, y, p) in lab.enumerate_pixels_mut() {
        let in_car = x >= car.0 && x < car.2 && y >= car.1 && y < car.3;
        let (c, id) = if in_car {
            (26u8, 26000u16)
        } else if y < 48 {
            (23, 23)
        } else {
            (7, 7)
        };
        *p = image::Luma([c]);
        ins.put_pixel(x, y, image::Luma([id]));
    }
    let (label, inst) = (out.path().join("wide_label.png"), out.path().join("wide_inst.png"));
    lab.save(&label).unwrap();
    ins.save(&inst).unwrap();
    let _ = data;
    let (a, b) = (out.path().join("k0.png"), out.path().join("k1.png"));
    for (p, k) in [(&a, "26000=0"), (&b, "26000=2")] {
        render(&[
            label.to_str().unwrap(),
            "--inst",
            inst.to_str().unwrap(),
            "--model",
            m2.to_str().unwrap(),
            "--style",
            k,
            "-o",
            p.to_str().unwrap(),
        ])
        .unwrap();
    }
    // Near the car: its box with an 8-pixel margin.
    let (inside, outside) = diff_in_out(&rgb(&a), &rgb(&b), (car.0 - 8, car.1 - 8, car.2 + 8, car.3 + 8));
    eprintln!("mean abs change near the car {inside:.2}, elsewhere {outside:.2}");
    assert!(inside > 5.0 * outside && inside > 1.0, "near {inside:.2} vs elsewhere {outside:.2}");
    // A contact sheet: one crop per car cluster.
    let sheet = out.path().join("sheet.png");
    render(&[
        label.to_str().unwrap(),
        "--inst",
        inst.to_str().unwrap(),
        "--model",
        m2.to_str().unwrap(),
        "--all-styles",
        "26000",
        "-o",
        sheet.to_str().unwrap(),
    ])
    .unwrap();
    for k in 0..2 {
        let crop = rgb(&out.path().join(format!("sheet_style{k:02}.png")));
        assert!(crop.width() < 64 && crop.width() >= 16, "cropped around the car: {:?}", crop.dimensions());
    }
}

#[test]
fn bad_input_is_a_clear_error_and_writes_nothing() {
    let (dir, data) = model();
    let out = tempfile::tempdir().unwrap();
    let m = dir.to_str().unwrap();
    let label = data.join("train_label/000.png");
    let target = out.path().join("out.png");
    let t = target.to_str().unwrap();
    let err_of = |words: &[&str]| format!("{:#}", render(words).unwrap_err());

    let small = out.path().join("small_inst.png");
    image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::new(32, 32).save(&small).unwrap();
    let e = err_of(&[label.to_str().unwrap(), "--inst", small.to_str().unwrap(), "--model", m, "-o", t]);
    assert!(e.contains("small_inst.png") && e.contains("32"), "{e}");

    let e = err_of(&[label.to_str().unwrap(), "--model", m, "--style", "26000=7", "-o", t]);
    assert!(e.contains("cluster 7"), "{e}");

    // Class 30 is valid Cityscapes but the model knows only 35 classes... so use a model with label_nc 20.
    let narrow = out.path().join("narrow");
    std::fs::create_dir_all(&narrow).unwrap();
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    cfg["label_nc"] = 20.into();
    std::fs::write(narrow.join("config.json"), cfg.to_string()).unwrap();
    std::fs::copy(dir.join("latest_net_G.safetensors"), narrow.join("latest_net_G.safetensors")).unwrap();
    std::fs::copy(dir.join(CLUSTERS_FILE), narrow.join(CLUSTERS_FILE)).unwrap();
    let e = err_of(&[label.to_str().unwrap(), "--model", narrow.to_str().unwrap(), "-o", t]);
    assert!(e.contains("model.1.weight") || e.contains("wrong shape"), "weights that do not fit the config: {e}");

    let e = err_of(&[label.to_str().unwrap(), "--model", m, "--net-g", "local", "-o", t]);
    assert!(e.contains("missing") || e.contains("unexpected"), "{e}");
    assert!(!target.exists(), "no output file after an error");
    assert_eq!(std::fs::read_dir(out.path()).unwrap().filter(|e| e.as_ref().unwrap().path().is_file()).count(), 1);
}

#[test]
fn the_bundled_model_renders_a_sample_scene_when_no_model_is_named() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("bundled-{}.png", std::process::id()));
    let label = root.join("assets/street_01_labelIds.png");
    let Cli::Render(a) = parse(&["render", label.to_str().unwrap(), "--out", out.to_str().unwrap(), "--device", "cpu"])
    else {
        unreachable!()
    };
    pix2pixhd::cmd::render::run(&a).unwrap();
    let img = image::open(&out).unwrap().to_rgb8();
    std::fs::remove_file(&out).unwrap();
    assert_eq!(img.dimensions(), (2048, 1024));
    // A picture, not a flat or empty image: the sky (top rows) and the road (bottom rows) differ in colour.
    let (top, bottom) = (mean_of_rows(&img, 0..100), mean_of_rows(&img, 924..1024));
    let diff: f64 = (0..3).map(|c| (top[c] - bottom[c]).abs()).sum();
    assert!(diff > 30.0, "top {top:?} and bottom {bottom:?} of the render barely differ");
}

/// The default precision (auto) renders the sample scene within 40 dB PSNR of the exact fp32 render, with the
/// bundled model, whatever path auto picks on this machine.
#[test]
fn the_default_precision_keeps_the_picture_of_the_fp32_render() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let scene = root.join("assets/street_01.json");
    let (auto, exact) = (tmp.path().join("auto.png"), tmp.path().join("fp32.png"));
    render(&[scene.to_str().unwrap(), "-o", auto.to_str().unwrap()]).unwrap();
    render(&[scene.to_str().unwrap(), "--precision", "fp32", "-o", exact.to_str().unwrap()]).unwrap();
    let (a, b) = (rgb(&auto), rgb(&exact));
    let (db, max) = pix2pixhd::cmd::fidelity::compare(a.as_raw(), b.as_raw());
    eprintln!("auto vs fp32: {db:.2} dB, max {max} levels");
    assert!(db >= 40.0, "auto vs fp32: {db:.2} dB");
}

/// The mean colour (0..255 per channel) of these rows of an image.
fn mean_of_rows(img: &image::RgbImage, rows: std::ops::Range<u32>) -> [f64; 3] {
    let mut s = [0f64; 3];
    for y in rows.clone() {
        for x in 0..img.width() {
            for (c, v) in s.iter_mut().enumerate() {
                *v += f64::from(img.get_pixel(x, y)[c]);
            }
        }
    }
    s.map(|v| v / (f64::from(img.width()) * rows.len() as f64))
}

#[test]
fn render_preview_runs_the_bundled_preview_generator_at_its_own_scale() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("bundled-preview-{}.png", std::process::id()));
    let label = root.join("assets/street_01_labelIds.png");
    render(&[label.to_str().unwrap(), "--preview", "--out", out.to_str().unwrap()]).unwrap();
    let img = image::open(&out).unwrap().to_rgb8();
    std::fs::remove_file(&out).unwrap();
    // G1 runs at a quarter of the size inside the bundled model (two enhancers): the editor's preview scale.
    assert_eq!(img.dimensions(), (512, 256));
    let (top, bottom) = (mean_of_rows(&img, 0..25), mean_of_rows(&img, 231..256));
    let diff: f64 = (0..3).map(|c| (top[c] - bottom[c]).abs()).sum();
    assert!(diff > 30.0, "top {top:?} and bottom {bottom:?} of the preview barely differ");

    // Naming the preview folder as the model warns for a scene wider than any preview, and only then.
    let pv = root.join("models/default/preview");
    let warning = |dir: &Path, size| pix2pixhd::render::preview_model_warning(dir, size);
    let w = warning(&pv, (2048, 1024)).expect("a warning at 2048×1024");
    assert!(w.contains("shrunk 4 times (512×256)") && w.contains("--preview"), "{w}");
    assert_eq!(warning(&pv, (512, 256)), None, "the size the preview learnt");
    assert_eq!(warning(&root.join("models/default"), (2048, 1024)), None, "the full model");
}

/// The bundled preview generator takes the same style features as the full model, and the copy of the clusters
/// beside it (for `render --model models/default/preview`) must be the model's: the same choice, the same look.
#[test]
fn the_bundled_previews_clusters_are_the_models() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/default");
    let load = |p: PathBuf| pix2pixhd::features::Clusters::load(&p).unwrap();
    assert_eq!(load(root.join("preview/clusters.json")), load(root.join("clusters.json")));
}

/// `eval-styles` end to end on a few synthetic scenes and a model trained for a few steps: the figures are consistent
/// (not good: the model is barely trained), every mode with a cluster is rendered on every test car.
#[test]
fn eval_styles_measures_purity_and_hit_rate_on_synthetic_scenes() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, ckpt) = (tmp.path().join("data"), tmp.path().join("ckpt"));
    let (d, c) = (data.to_str().unwrap(), ckpt.to_str().unwrap());
    synth(d, 128, 64);
    let mut words =
        vec!["train", "--dataroot", d, "--checkpoints-dir", c, "--name", "s", "--instance-feat", "--nef", "4"];
    words.extend_from_slice(&["--n-downsample-e", "2", "--niter", "2", "--niter-decay", "0", "--device", "cpu"]);
    words.push("--quiet");
    words.extend_from_slice(common::TINY_MODEL_FLAGS);
    let Cli::Train(t) = parse(&words) else { unreachable!() };
    pix2pixhd::cmd::train::run(&t).unwrap();
    let dir = ckpt.join("s");
    let m = dir.to_str().unwrap();
    let Cli::Encode(e) = parse(&["encode", "--model", m, "--dataroot", d, "--device", "cpu", "--n-clusters", "3"])
    else {
        unreachable!()
    };
    pix2pixhd::cmd::encode::run(&e).unwrap();
    let Cli::EvalStyles(ev) =
        parse(&["eval-styles", "--model", m, "--dataroot", d, "--device", "cpu", "--min-pixels", "1"])
    else {
        unreachable!()
    };
    let r = pix2pixhd::cmd::eval_styles::evaluate(&ev).unwrap();
    assert!(r.train_cars > 0);
    assert!((0.0..=1.0).contains(&r.purity) && (0.0..=1.0).contains(&r.hit_rate), "{r:?}");
    // At most 3 clusters, so at most 3 modes; each is tried on the same test cars.
    assert!(!r.hits.is_empty() && r.hits.len() <= 3, "{r:?}");
    let per_mode: Vec<usize> = r.hits.values().map(|h| h.1).collect();
    assert!(per_mode[0] > 0 && per_mode.iter().all(|&n| n == per_mode[0]), "{r:?}");
    let (hit, n) = r.hits.values().fold((0, 0), |a, h| (a.0 + h.0, a.1 + h.1));
    assert!((r.hit_rate - hit as f64 / n as f64).abs() < 1e-12);
    // The real photo and the reconstruction are scored on the same test cars, once each.
    assert_eq!(r.real_hits.1, per_mode[0], "{r:?}");
    assert_eq!(r.reconstruction_hits.1, per_mode[0], "{r:?}");
    assert!(r.reconstruction_hits.0 <= r.reconstruction_hits.1, "{r:?}");
    // The size bands split the same renders.
    let bands = r.hits_by_size.iter().fold((0, 0), |a, h| (a.0 + h.0, a.1 + h.1));
    assert_eq!(bands, (hit, n), "{r:?}");
    // The encoder's side counts every test car once, in the same bands.
    let enc = r.encoder_hits_by_size.iter().fold((0, 0), |a, h| (a.0 + h.0, a.1 + h.1));
    assert!(enc.1 == per_mode[0] && enc.0 <= enc.1, "{r:?}");
    for (e, h) in r.encoder_hits_by_size.iter().zip(&r.hits_by_size) {
        assert_eq!(e.1 * r.hits.len(), h.1, "one encoding per car, one render per car and mode: {r:?}");
    }
    // Synth paints every car in its mode's colour: most real cars are nearest to their own mode even at 128×64.
    assert!(2 * r.real_hits.0 > r.real_hits.1, "{r:?}");
    assert_eq!(r.preview, None);

    // --preview: the same cars rendered as the editor's preview renders them; with no preview generator in the
    // folder, the model itself on the scene shrunk twice. No reconstruction is measured.
    let Cli::EvalStyles(pv) =
        parse(&["eval-styles", "--model", m, "--dataroot", d, "--device", "cpu", "--min-pixels", "1", "--preview"])
    else {
        unreachable!()
    };
    let p = pix2pixhd::cmd::eval_styles::evaluate(&pv).unwrap();
    let ((size, lost), cars) = (p.preview.expect("a preview was measured"), per_mode[0]);
    assert_eq!(size, (64, 32), "{p:?}");
    assert!(lost < cars, "{p:?}");
    assert!(p.hits.values().all(|h| h.1 == cars - lost), "every mode on every car the shrinking kept: {p:?}");
    assert_eq!((p.purity, p.train_cars, p.real_hits), (r.purity, r.train_cars, r.real_hits), "the same E and cars");
    assert_eq!(p.reconstruction_hits, (0, 0));
}

/// 6 training and 2 test scenes of `pix2pixhd synth` at the given size.
fn synth(out: &str, w: u32, h: u32) {
    let (w, h) = (w.to_string(), h.to_string());
    let words = ["synth", "--out", out, "--train", "6", "--test", "2", "--width", &w, "--height", &h, "--quiet"];
    let Cli::Synth(a) = parse(&words) else { unreachable!() };
    pix2pixhd::cmd::synth::run(&a).unwrap();
}

fn eval_model(words: &[&str]) -> anyhow::Result<pix2pixhd::eval::model::Report> {
    let mut v = vec!["eval-model", "--device", "cpu", "--train-scenes", "6"];
    v.extend_from_slice(words);
    let Cli::EvalModel(a) = parse(&v) else { unreachable!() };
    pix2pixhd::cmd::eval_model::evaluate(&a)
}

/// `eval-model` end to end with the texture floor, on synthetic test scenes (the tiny model above: its figures are
/// poor, but the baselines and the floor are properties of the data and must order as the model card says).
#[test]
fn eval_model_reports_the_baselines_and_the_texture_floor() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    synth(d, 256, 128);
    let m = model().0.to_str().unwrap();
    let (sheet, json) = (tmp.path().join("sheet.png"), tmp.path().join("eval.json"));
    let (s, j) = (sheet.to_str().unwrap(), json.to_str().unwrap());
    let r = eval_model(&["--model", m, "--dataroot", d, "--texture-floor", "3", "--sheet", s, "--json", j]).unwrap();
    assert_eq!((r.scenes, r.width, r.height), (2, 256, 128));
    assert!((0.0..1.0).contains(&r.l1_encoded) && r.l1_encoded > 0.0, "{r:?}");
    // Each region's own mean colour beats each class's mean training colour.
    assert!(r.l1_region_oracle < r.l1_baseline, "{r:?}");
    // The per-class table splits the same error: pixel-weighted, it averages back to the whole figure.
    let px: u64 = r.l1_by_class.values().map(|c| c.pixels).sum();
    assert_eq!(px, 2 * 256 * 128);
    let back = r.l1_by_class.values().map(|c| c.encoded * c.pixels as f64).sum::<f64>() / px as f64;
    assert!((back - r.l1_encoded).abs() < 1e-9, "{back} vs {}", r.l1_encoded);
    let shares: f64 = r.l1_by_class.values().map(|c| c.encoded_share).sum();
    assert!((shares - 1.0).abs() < 1e-9, "{shares}");
    assert!(r.l1_by_class.values().all(|c| c.floor.is_some()));
    let t = r.texture_floor.expect("asked for");
    assert_eq!(t.samples, 3);
    // The lower bound is below the median's estimate of the best, and knowing texture-free structure (shading,
    // lane markings, window grids) beats painting regions flat.
    assert!(0.0 < t.l1_lower_bound && t.l1_lower_bound <= t.l1_median, "{t:?}");
    assert!((t.l1_redrawn - 2.0 * t.l1_lower_bound).abs() < 1e-12, "{t:?}");
    // A re-drawing, even at the photo's region colours, is no better than the median in L1.
    assert!(t.l1_median_region_means < t.l1_redrawn_region_means, "{t:?}");
    assert!(t.l1_median_region_means < r.l1_region_oracle, "{t:?} vs {r:?}");
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(saved["texture_floor"]["samples"], 3);
    assert_eq!(image::open(&sheet).unwrap().width(), 3 * 512 + 2 * 4);

    // Without --texture-floor the figure is absent, and the rest is the same (deterministic renders).
    let plain = eval_model(&["--model", m, "--dataroot", d]).unwrap();
    assert!(plain.texture_floor.is_none() && plain.l1_by_class.values().all(|c| c.floor.is_none()));
    assert_eq!(plain.l1_encoded, r.l1_encoded);

    // Without the sidecars (a data set that `synth` did not make) the floor cannot be drawn: a clear error naming the
    // missing file.
    let (meta, away) = (data.join("test_meta"), tmp.path().join("meta_away"));
    std::fs::rename(&meta, &away).unwrap();
    let err = eval_model(&["--model", m, "--dataroot", d, "--texture-floor", "2"]).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("pix2pixhd synth") && msg.contains("test_meta/00000.json"), "{msg}");
    std::fs::rename(&away, &meta).unwrap();
    // A photo that synth would draw differently (edited, or an older version) is refused, not measured.
    let photo = data.join("test_img/00000.png");
    let mut img = image::open(&photo).unwrap().to_rgb8();
    img.put_pixel(0, 0, image::Rgb([1, 2, 3]));
    img.save(&photo).unwrap();
    let err = eval_model(&["--model", m, "--dataroot", d, "--texture-floor", "2"]).unwrap_err();
    assert!(format!("{err:#}").contains("00000.png is not what"), "{err:#}");
}

/// The editor's render worker and `render` give the same pixels for the same scene, styles and seed: the full
/// render, the quick preview (the model at half size, and a preview generator of its own) and the style
/// thumbnails. The scene has a style on a group region of cars (its instance value is the bare class id 26) and
/// an unstyled car next to it: the group's style must not reach the car in either.
#[test]
fn the_cli_and_the_editors_worker_render_the_same_pixels() {
    use pix2pixhd::app::worker::{Event, Job, Stage, ThumbJob, Worker};
    use pix2pixhd::render::PrecisionChoice;
    use pix2pixhd::scene::{MapStorage, Scene, StyleChoice};
    use std::sync::Arc;
    use std::time::Duration;

    let tmp = tempfile::tempdir().unwrap();
    let model = common::tiny_model(tmp.path());
    let clusters = Clusters::load(&model.join(CLUSTERS_FILE)).unwrap();
    let (w, h, seed) = (256u32, 128u32, 5u64);
    let inst: Vec<u32> = (0..w * h)
        .map(|i| match (i % w, i / w) {
            (_, 0..30) => 23,
            (100..160, 80..110) => 26000,
            (180..230, 70..100) => 26,
            (_, 30..70) => 11,
            _ => 7,
        })
        .collect();
    let label = inst.iter().map(|&v| pix2pixhd::labels::class_of_instance(v) as u8).collect();
    let mut scene = Scene::from_maps(w, h, label, Some(inst)).unwrap();
    // The group gets a cluster other than the one the seed gives the car.
    let seeded = pix2pixhd::features::StyleSpec { seed, ..Default::default() };
    let car_cluster = seeded.cluster_for(26000, &clusters).unwrap().unwrap();
    let _ = scene.set_style(26, StyleChoice::Cluster((car_cluster + 1) % 3)).unwrap();
    let _ = scene.set_style(7, StyleChoice::Cluster(1)).unwrap();
    let path = tmp.path().join("scene.json");
    scene.save_json(&path, MapStorage::Embedded).unwrap();
    // The same scene with the car's seeded cluster chosen for it: it must render the same.
    let mut explicit = scene.clone();
    let _ = explicit.set_style(26000, StyleChoice::Cluster(car_cluster)).unwrap();
    let explicit_path = tmp.path().join("explicit.json");
    explicit.save_json(&explicit_path, MapStorage::Embedded).unwrap();

    let wait = |worker: &Worker, what: &str, want: &dyn Fn(&Event) -> bool| loop {
        match worker.wait(Duration::from_secs(120)) {
            Some(e) if want(&e) => return e,
            Some(Event::Failed { message, .. } | Event::LoadFailed(message)) => panic!("{what}: {message}"),
            Some(_) => {}
            None => panic!("no {what} from the worker within 2 minutes"),
        }
    };
    let png = |name: &str| tmp.path().join(name);
    let (p, m) = (path.to_str().unwrap(), model.to_str().unwrap());
    for with_preview in [false, true] {
        if with_preview {
            // A preview generator of its own: another random G of the same configuration.
            let dir = model.join("preview");
            std::fs::create_dir_all(&dir).unwrap();
            for f in ["config.json", CLUSTERS_FILE] {
                std::fs::copy(model.join(f), dir.join(f)).unwrap();
            }
            let cfg = pix2pixhd::model::ModelConfig::load(&dir.join("config.json")).unwrap();
            let g = pix2pixhd::model::runtime::GeneratorModel::random(&cfg, tch::Device::Cpu, 2).unwrap();
            g.save(&dir.join("latest_net_G.safetensors")).unwrap();
        }
        let worker = Worker::start(&model, "cpu", PrecisionChoice::Auto, Arc::new(|| {}));
        let Event::Ready(info) = wait(&worker, "model", &|e| matches!(e, Event::Ready(_))) else { unreachable!() };
        assert_eq!(info.preview == "global generator", with_preview, "{info:?}");
        worker.submit(Job { generation: 1, scene: Arc::new(scene.clone()), seed, preview: true });
        let mut pictures = Vec::new();
        while pictures.len() < 2 {
            if let Event::Rendered { stage, width, height, rgb, .. } =
                wait(&worker, "render", &|e| matches!(e, Event::Rendered { .. }))
            {
                pictures.push((stage, (width, height), rgb));
            }
        }
        worker.submit_thumbnails(ThumbJob { generation: 1, scene: Arc::new(scene.clone()), seed, id: 26000 });
        let Event::Thumbnails { images, .. } = wait(&worker, "thumbnails", &|e| matches!(e, Event::Thumbnails { .. }))
        else {
            unreachable!()
        };

        let seed = seed.to_string();
        render(&[p, "--model", m, "--seed", &seed, "-o", png("full.png").to_str().unwrap()]).unwrap();
        render(&[p, "--model", m, "--seed", &seed, "--preview", "-o", png("preview.png").to_str().unwrap()]).unwrap();
        render(&[p, "--model", m, "--seed", &seed, "--all-styles", "26000", "-o", png("sheet.png").to_str().unwrap()])
            .unwrap();
        for (stage, size, pixels) in &pictures {
            let file = if *stage == Stage::Full { "full.png" } else { "preview.png" };
            let cli = rgb(&png(file));
            assert_eq!(cli.dimensions(), *size, "{stage:?} (preview generator: {with_preview})");
            assert!(
                cli.as_raw() == pixels,
                "{stage:?} differs between render and the editor (preview generator: {with_preview})"
            );
        }
        assert_eq!(pictures[0].1, if with_preview { (w, h) } else { (w / 2, h / 2) }, "the preview's size");
        let e = explicit_path.to_str().unwrap();
        render(&[e, "--model", m, "--seed", &seed, "-o", png("explicit.png").to_str().unwrap()]).unwrap();
        assert!(
            rgb(&png("explicit.png")).as_raw() == &pictures[1].2,
            "the group's style reached the unstyled car: it did not render in its seeded cluster {car_cluster}"
        );
        assert_eq!(images.len(), 3, "one thumbnail per car cluster");
        for t in &images {
            let cli = rgb(&png(&format!("sheet_style{:02}.png", t.cluster)));
            assert_eq!(cli.dimensions(), (t.crop.width, t.crop.height));
            assert!(cli.as_raw() == &t.rgb, "thumbnail {} differs between render and the editor", t.cluster);
        }
    }
}

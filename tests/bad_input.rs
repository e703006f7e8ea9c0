//! Hostile input through the real loading paths: mutated label and instance PNGs, scene JSON, `config.json`,
//! `clusters.json`, safetensors and `.pth` weight files, and option values, each run as `pix2pixhd render` (or the
//! weight loader) runs it. Every case must end in a render or in an error that names the file it was given; none
//! may panic, and an output folder holds the picture or nothing (no temporary file, no half a picture).
//! Deterministic: the cases are drawn from fixed seeds, so a failure repeats. `SHOW_REFUSALS=label` (a case-name
//! prefix) prints every refusal of those cases, to read the messages a user gets.

mod common;

use clap::Parser;
use common::tiny_model;
use image::{DynamicImage, ImageBuffer, Luma, LumaA, Rgb, Rgba};
use pix2pixhd::cmd::render::{RenderArgs, run as render};
use pix2pixhd::scene::{MapStorage, Scene};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use std::path::{Path, PathBuf};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: RenderArgs,
}

const W: u32 = 48;
const H: u32 = 32;

/// Sky, road, and a car (26000) on it.
fn scene() -> Scene {
    let (w, h) = (W as usize, H as usize);
    let (mut label, mut inst) = (vec![0u8; w * h], vec![0u32; w * h]);
    for y in 0..h {
        for x in 0..w {
            let (c, i) = if y < 10 {
                (23, 23)
            } else if (10..30).contains(&x) && (16..26).contains(&y) {
                (26, 26000)
            } else {
                (7, 7)
            };
            label[y * w + x] = c;
            inst[y * w + x] = i;
        }
    }
    Scene::from_maps(W, H, label, Some(inst)).unwrap()
}

/// Byte-level damage: a few flips, overwrites, cuts, repeats and insertions.
fn mutate(bytes: &[u8], rng: &mut Pcg64) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        if b.is_empty() {
            b.push(rng.random());
            continue;
        }
        let i = rng.random_range(0..b.len());
        match rng.random_range(0..6) {
            0 => b[i] ^= 1 << rng.random_range(0..8),
            1 => b[i] = [0, 0xFF, 0x7F, 0x80][rng.random_range(0..4)],
            2 => b.truncate(i),
            3 => {
                let end = (i + rng.random_range(1..64)).min(b.len());
                let chunk = b[i..end].to_vec();
                b.splice(i..i, chunk);
            }
            4 => {
                let n = rng.random_range(1..16);
                b.splice(i..i, (0..n).map(|_| rng.random::<u8>()));
            }
            _ => b[i] = rng.random(),
        }
    }
    b
}

/// A PNG of random size and colour type, with mostly plausible values (class ids, instance ids) and some not.
/// With `sixteen_bit_ids` (an instance map), most have the test scene's size, so that they get past the size check.
fn random_png(rng: &mut Pcg64, sixteen_bit_ids: bool) -> Vec<u8> {
    let (w, h) = if sixteen_bit_ids && rng.random_bool(0.7) {
        (W, H)
    } else {
        (rng.random_range(1..=160u32), rng.random_range(1..=96u32))
    };
    let plausible = rng.random_bool(0.7);
    let id = |rng: &mut Pcg64| -> u16 {
        if plausible {
            let c = [0u16, 7, 11, 23, 24, 26, 33][rng.random_range(0..7)];
            if sixteen_bit_ids && c >= 24 { c * 1000 + rng.random_range(0..3) } else { c }
        } else {
            rng.random()
        }
    };
    let img = match rng.random_range(0..6) {
        0 => DynamicImage::ImageLuma8(ImageBuffer::from_fn(w, h, |_, _| Luma([id(rng) as u8]))),
        1 => DynamicImage::ImageLuma16(ImageBuffer::from_fn(w, h, |_, _| Luma([id(rng)]))),
        2 => DynamicImage::ImageRgb8(ImageBuffer::from_fn(w, h, |_, _| {
            let c = pix2pixhd::labels::color([7u8, 23, 26][rng.random_range(0..3)]);
            if plausible { Rgb(c) } else { Rgb(rng.random()) }
        })),
        3 => DynamicImage::ImageRgba8(ImageBuffer::from_fn(w, h, |_, _| Rgba(rng.random()))),
        4 => DynamicImage::ImageLumaA8(ImageBuffer::from_fn(w, h, |_, _| LumaA([id(rng) as u8, 255]))),
        _ => DynamicImage::ImageRgb16(ImageBuffer::from_fn(w, h, |_, _| Rgb([id(rng); 3]))),
    };
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
    out
}

/// One kind of hostile input: how many cases ran, how they ended, and what went wrong.
#[derive(Default)]
struct Tally {
    cases: usize,
    rendered: usize,
    refused: usize,
    failures: Vec<String>,
}

impl Tally {
    /// Runs one case: `f` must not panic; an error must name one of `names`; `out` must then be empty, and after a
    /// render hold only `expected`.
    fn case(
        &mut self,
        what: &str,
        names: &[&Path],
        out: &Path,
        expected: &[&str],
        f: impl FnOnce() -> anyhow::Result<()>,
    ) {
        self.cases += 1;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let mut left: Vec<String> = std::fs::read_dir(out)
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        left.sort();
        match result {
            Err(_) => self.failures.push(format!("{what}: panicked")),
            Ok(Err(e)) => {
                self.refused += 1;
                let text = format!("{e:#}");
                if std::env::var("SHOW_REFUSALS").is_ok_and(|v| what.starts_with(&v)) {
                    eprintln!("{what}: {text}");
                }
                if !names.iter().any(|p| text.contains(&p.display().to_string())) {
                    self.failures.push(format!("{what}: the error names none of {names:?}: {text}"));
                }
                if !left.is_empty() {
                    self.failures.push(format!("{what}: a refused case left {left:?}"));
                }
            }
            Ok(Ok(())) => {
                self.rendered += 1;
                if left != expected {
                    self.failures.push(format!("{what}: the output folder holds {left:?}, expected {expected:?}"));
                }
            }
        }
    }

    fn report(&self, kind: &str) {
        eprintln!(
            "{kind}: {} cases, {} rendered, {} refused, {} failures",
            self.cases,
            self.rendered,
            self.refused,
            self.failures.len()
        );
        assert!(
            self.failures.is_empty(),
            "{kind}: {} failures, e.g.\n{}",
            self.failures.len(),
            self.failures.iter().take(8).cloned().collect::<Vec<_>>().join("\n")
        );
    }
}

fn render_args(input: &Path, model: &Path, out: &Path, extra: &[&str]) -> RenderArgs {
    let mut v: Vec<String> =
        ["render", input.to_str().unwrap(), "--model", model.to_str().unwrap()].iter().map(|s| s.to_string()).collect();
    v.extend(["--device", "cpu", "-o", out.join("x.png").to_str().unwrap()].map(String::from));
    v.extend(extra.iter().map(|s| s.to_string()));
    Cli::try_parse_from(v).unwrap().args
}

#[test]
fn mutated_label_and_instance_maps_render_or_are_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let s = scene();
    let (label_ok, inst_ok) = (tmp.path().join("ok_labelIds.png"), tmp.path().join("ok_instanceIds.png"));
    s.save_label_png(&label_ok).unwrap();
    s.save_instance_png(&inst_ok).unwrap();
    let (label_bytes, inst_bytes) = (std::fs::read(&label_ok).unwrap(), std::fs::read(&inst_ok).unwrap());
    let mut rng = Pcg64::seed_from_u64(26);
    let (mut labels, mut insts) = (Tally::default(), Tally::default());
    for case in 0..300 {
        let dir = tmp.path().join(format!("label{case}"));
        let out = dir.join("out");
        std::fs::create_dir_all(&dir).unwrap();
        let input = dir.join("scene.png");
        let bytes = if case % 2 == 0 { mutate(&label_bytes, &mut rng) } else { random_png(&mut rng, false) };
        std::fs::write(&input, bytes).unwrap();
        let a = render_args(&input, &model, &out, &[]);
        labels.case(&format!("label case {case}"), &[input.as_path()], &out, &["x.png"], || render(&a));
    }
    for case in 0..200 {
        let dir = tmp.path().join(format!("inst{case}"));
        let out = dir.join("out");
        std::fs::create_dir_all(&dir).unwrap();
        let inst = dir.join("inst.png");
        let bytes = if case % 2 == 0 { mutate(&inst_bytes, &mut rng) } else { random_png(&mut rng, true) };
        std::fs::write(&inst, bytes).unwrap();
        let a = render_args(&label_ok, &model, &out, &["--inst", inst.to_str().unwrap()]);
        insts.case(&format!("instance case {case}"), &[inst.as_path(), label_ok.as_path()], &out, &["x.png"], || {
            render(&a)
        });
    }
    labels.report("label PNG");
    insts.report("instance PNG");
}

/// A JSON value to put where a valid one was.
fn odd_value(rng: &mut Pcg64) -> serde_json::Value {
    use serde_json::json;
    let pool = [
        json!(0),
        json!(-1),
        json!(1),
        json!(3),
        json!(1_000_000),
        json!(1u64 << 40),
        json!(u64::MAX),
        json!(2.5),
        json!("x"),
        json!(null),
        json!(true),
        json!([]),
        json!({}),
        json!("local"),
        json!(64),
    ];
    pool[rng.random_range(0..pool.len())].clone()
}

/// `text` (a JSON object) with one to three fields set to odd values or removed, or damaged byte by byte.
fn mutate_json(text: &str, rng: &mut Pcg64, extra_keys: &[&str]) -> Vec<u8> {
    if rng.random_bool(0.3) {
        return mutate(text.as_bytes(), rng);
    }
    let mut v: serde_json::Value = serde_json::from_str(text).unwrap();
    let obj = v.as_object_mut().unwrap();
    let mut keys: Vec<String> = obj.keys().cloned().collect();
    keys.extend(extra_keys.iter().map(|k| k.to_string()));
    for _ in 0..rng.random_range(1..=3) {
        let k = keys[rng.random_range(0..keys.len())].clone();
        if rng.random_bool(0.2) {
            obj.remove(&k);
        } else {
            obj.insert(k, odd_value(rng));
        }
    }
    v.to_string().into_bytes()
}

#[test]
fn mutated_scene_files_render_or_are_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let ok = tmp.path().join("ok.json");
    scene().save_json(&ok, MapStorage::Embedded).unwrap();
    let text = std::fs::read_to_string(&ok).unwrap();
    let mut rng = Pcg64::seed_from_u64(27);
    let mut t = Tally::default();
    for case in 0..300 {
        let dir = tmp.path().join(format!("scene{case}"));
        let out = dir.join("out");
        std::fs::create_dir_all(&dir).unwrap();
        let input = dir.join("scene.json");
        let bytes = if case % 3 == 0 {
            // Styles: odd keys and choices.
            let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
            let key = ["7", "26000", "26999", "99999", "-1", "x", "4294967295"][rng.random_range(0..7)];
            v["styles"][key] = odd_value(&mut rng);
            v.to_string().into_bytes()
        } else {
            mutate_json(&text, &mut rng, &[])
        };
        std::fs::write(&input, bytes).unwrap();
        let a = render_args(&input, &model, &out, &[]);
        t.case(&format!("scene case {case}"), &[input.as_path()], &out, &["x.png"], || render(&a));
    }
    t.report("scene JSON");
}

/// A copy of the tiny model in `dir`, with `file` replaced by `bytes`.
fn model_with(model: &Path, dir: &Path, file: &str, bytes: &[u8]) -> PathBuf {
    let m = dir.join("model");
    std::fs::create_dir_all(&m).unwrap();
    for f in ["config.json", "latest_net_G.safetensors", "clusters.json"] {
        std::fs::copy(model.join(f), m.join(f)).unwrap();
    }
    std::fs::write(m.join(file), bytes).unwrap();
    m
}

#[test]
fn mutated_model_files_render_or_are_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let input = tmp.path().join("scene.json");
    scene().save_json(&input, MapStorage::Embedded).unwrap();
    let config = std::fs::read_to_string(model.join("config.json")).unwrap();
    let clusters = std::fs::read_to_string(model.join("clusters.json")).unwrap();
    let weights = std::fs::read(model.join("latest_net_G.safetensors")).unwrap();
    let mut rng = Pcg64::seed_from_u64(28);
    let kinds: [(&str, usize); 3] = [("config.json", 200), ("clusters.json", 200), ("latest_net_G.safetensors", 200)];
    for (file, n) in kinds {
        let mut t = Tally::default();
        for case in 0..n {
            let dir = tmp.path().join(format!("{file}{case}"));
            let out = dir.join("out");
            let bytes = match file {
                "config.json" => mutate_json(&config, &mut rng, &["ngff"]),
                "clusters.json" => mutate_json(&clusters, &mut rng, &[]),
                _ => mutate(&weights, &mut rng),
            };
            let m = model_with(&model, &dir, file, &bytes);
            let a = render_args(&input, &m, &out, &[]);
            // A configuration that reads but describes another network is refused by the weight file it does not fit.
            let named: Vec<PathBuf> = match file {
                "config.json" => vec![m.join(file), m.join("latest_net_G.safetensors")],
                _ => vec![m.join(file)],
            };
            let named: Vec<&Path> = named.iter().map(PathBuf::as_path).collect();
            t.case(&format!("{file} case {case}"), &named, &out, &["x.png"], || render(&a));
        }
        t.report(file);
    }
}

#[test]
fn mutated_pytorch_weight_files_load_or_are_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let ok = tmp.path().join("ok.pth");
    let expand = tmp.path().join("expand.pth");
    let script = format!(
        "import torch\ntorch.save({{'a': torch.randn(3, 4), 'b': torch.arange(5), 'c': torch.ones(2, 2).t()}}, {:?})\n\
         torch.save({{'w': torch.zeros(1).expand(2**20, 2**20)}}, {:?})\n",
        ok.display().to_string(),
        expand.display().to_string()
    );
    let status = std::process::Command::new(common::python()).args(["-c", &script]).status().unwrap();
    assert!(status.success(), "python could not write the .pth files");
    // The stride-0 view: one float of storage that would copy to 2^40.
    let err = pix2pixhd::model::checkpoint::read_tensors(&expand).unwrap_err().to_string();
    assert!(err.contains("expand.pth") && err.contains("elements"), "{err}");
    let bytes = std::fs::read(&ok).unwrap();
    let mut rng = Pcg64::seed_from_u64(29);
    let mut t = Tally::default();
    for case in 0..300 {
        let dir = tmp.path().join(format!("pth{case}"));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("w.pth");
        std::fs::write(&p, mutate(&bytes, &mut rng)).unwrap();
        let out = dir.join("out");
        t.case(&format!(".pth case {case}"), &[p.as_path()], &out, &[], || {
            pix2pixhd::model::checkpoint::read_tensors(&p)?;
            Ok(())
        });
    }
    t.report(".pth");
}

#[test]
fn odd_option_values_render_or_are_refused_without_a_crash() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let input = tmp.path().join("scene.json");
    scene().save_json(&input, MapStorage::Embedded).unwrap();
    let mut rng = Pcg64::seed_from_u64(30);
    let styles = [
        "26000=1",
        "26000=99",
        "26999=1",
        "99999=1",
        "class:999=1",
        "class:car=2",
        "7=1",
        "=",
        "x=y",
        "class:=1",
        "26000=-1",
        "26000",
    ];
    let devices = ["cpu", "tpu", "", "cuda:x", "cuda:", "CPU", "auto"];
    let seeds = ["0", "18446744073709551615", "-1", "x"];
    let mut t = Tally::default();
    for case in 0..200 {
        let dir = tmp.path().join(format!("opt{case}"));
        let out = dir.join("out");
        let mut v: Vec<String> =
            vec!["render".into(), input.display().to_string(), "--model".into(), model.display().to_string()];
        v.extend(["-o".to_string(), out.join("x.png").display().to_string()]);
        v.extend(["--device".to_string(), devices[rng.random_range(0..devices.len())].to_string()]);
        v.extend(["--seed".to_string(), seeds[rng.random_range(0..seeds.len())].to_string()]);
        for _ in 0..rng.random_range(0..3) {
            v.extend(["--style".to_string(), styles[rng.random_range(0..styles.len())].to_string()]);
        }
        let what = format!("options case {case}: {v:?}");
        // Option errors name the option, not a file: any message will do, as long as it is one.
        let any: &[&Path] = &[Path::new("")];
        match Cli::try_parse_from(&v) {
            Ok(cli) => t.case(&what, any, &out, &["x.png"], || render(&cli.args)),
            Err(_) => t.cases += 1,
        }
    }
    t.report("options");
}

/// `pix2pixhd` run as a user runs it, killed if it takes more than `secs`; (exit code, stderr).
fn cli(args: &[&str], env: &[(&str, &str)], secs: u64) -> (i32, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pix2pixhd"));
    cmd.args(args).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let t = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            return (status.code().unwrap_or(-1), err);
        }
        if t.elapsed().as_secs() > secs {
            child.kill().unwrap();
            panic!("pix2pixhd {args:?} hung (killed after {secs} s)");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn the_command_line_refuses_what_it_cannot_do_with_exit_1_and_a_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let m = model.to_str().unwrap();
    let input = tmp.path().join("scene.json");
    scene().save_json(&input, MapStorage::Embedded).unwrap();
    let i = input.to_str().unwrap();
    let out = tmp.path().join("out");
    let o = |name: &str| out.join(name).display().to_string();

    // A render bigger than the memory it may use is refused before anything is allocated, with both figures.
    let (code, err) = cli(
        &["render", i, "--model", m, "--device", "cpu", "-o", &o("a.png")],
        &[("PIX2PIXHD_MAX_MEMORY", "200K")],
        60,
    );
    assert!(
        code == 1 && err.contains("48×32") && err.contains("needs about") && err.contains("allows 0.2 MB"),
        "{code}: {err}"
    );
    // So is a network whose weights would not fit, naming its configuration.
    let big = tmp.path().join("big");
    std::fs::create_dir_all(&big).unwrap();
    for f in ["latest_net_G.safetensors", "clusters.json"] {
        std::fs::copy(model.join(f), big.join(f)).unwrap();
    }
    let cfg = std::fs::read_to_string(model.join("config.json")).unwrap().replace("\"ngf\": 4", "\"ngf\": 1000000");
    std::fs::write(big.join("config.json"), cfg).unwrap();
    let (code, err) =
        cli(&["render", i, "--model", big.to_str().unwrap(), "--device", "cpu", "-o", &o("b.png")], &[], 60);
    assert!(
        code == 1 && err.contains("config.json") && err.contains("ngf 1000000") && err.contains("free"),
        "{code}: {err}"
    );

    // A FIFO with no writer is refused at once instead of blocking the read forever.
    let fifo = tmp.path().join("fifo.png");
    if std::process::Command::new("mkfifo").arg(&fifo).status().is_ok_and(|s| s.success()) {
        let (code, err) =
            cli(&["render", fifo.to_str().unwrap(), "--model", m, "--device", "cpu", "-o", &o("c.png")], &[], 30);
        assert!(code == 1 && err.contains("fifo.png") && err.contains("FIFO"), "{code}: {err}");
    }

    // Unknown devices list the forms a device takes.
    for dev in ["tpu", ""] {
        let (code, err) = cli(&["render", i, "--model", m, "--device", dev, "-o", &o("d.png")], &[], 30);
        assert!(code == 1 && err.contains("cpu, cuda, cuda:N") && !err.contains("not available"), "{dev:?}: {err}");
    }

    // Style choices the scene cannot use are errors that list what it has.
    for (style, want) in
        [("26999=1", "26000"), ("99999=1", "neither"), ("class:999=1", "class 999"), ("class:bus=1", "26")]
    {
        let (code, err) =
            cli(&["render", i, "--model", m, "--device", "cpu", "--style", style, "-o", &o("e.png")], &[], 30);
        assert!(code == 1 && err.contains(want), "--style {style}: {code}: {err}");
    }
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().count() == 0, "refused renders wrote nothing");

    // A .jpg name gets a JPEG, a name of another format is refused before rendering.
    let (code, err) = cli(&["render", i, "--model", m, "--device", "cpu", "-o", &o("photo.jpg")], &[], 60);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(out.join("photo.jpg")).unwrap()[..3], [0xFF, 0xD8, 0xFF]);
    let (code, err) = cli(&["render", i, "--model", m, "--device", "cpu", "-o", &o("photo.tiff")], &[], 60);
    assert!(code == 1 && err.contains("photo.tiff") && err.contains(".jpg"), "{code}: {err}");

    // A clusters.json made for a model with another feat_num names its file.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    for f in ["latest_net_G.safetensors", "config.json"] {
        std::fs::copy(model.join(f), other.join(f)).unwrap();
    }
    let mut c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("clusters.json")).unwrap()).unwrap();
    c["feat_num"] = 2.into();
    for class in c["classes"].as_object_mut().unwrap().values_mut() {
        for centre in class["centers"].as_array_mut().unwrap() {
            centre.as_array_mut().unwrap().pop();
        }
    }
    std::fs::write(other.join("clusters.json"), c.to_string()).unwrap();
    let (code, err) =
        cli(&["render", i, "--model", other.to_str().unwrap(), "--device", "cpu", "-o", &o("f.png")], &[], 60);
    assert!(code == 1 && err.contains("clusters.json") && err.contains("feat_num is 2"), "{code}: {err}");
}

#[test]
fn synth_refuses_counts_it_cannot_count_or_store_without_writing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("set");
    let o = out.to_str().unwrap();
    for n in ["18446744073709551615", "1000000000"] {
        let (code, err) =
            cli(&["synth", "--out", o, "--train", n, "--width", "64", "--height", "32", "--quiet"], &[], 60);
        assert!(code == 1 && (err.contains("on disk") || err.contains("count")), "--train {n}: {code}: {err}");
    }
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().count() == 0, "nothing written");
}

/// Threads of this process whose name starts with `prefix` (Linux keeps 15 bytes of a name).
fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| std::fs::read_to_string(e.path().join("comm")).is_ok_and(|n| n.starts_with(prefix)))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn closing_the_editor_mid_render_waits_for_its_render_threads() {
    use pix2pixhd::app::{Action, EditorApp, EditorOptions, WorkerState};
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    // Big enough that a render takes a while: a thread not waited for would still be running after the drop.
    let input = tmp.path().join("scene.json");
    Scene::blank(1024, 512, 7).unwrap().save_json(&input, MapStorage::Embedded).unwrap();
    for round in 0..3 {
        let opts = EditorOptions {
            scene: Some(input.clone()),
            model: model.clone(),
            device: "cpu".into(),
            state_dir: tmp.path().join("state"),
            autosave_secs: 0,
            ..Default::default()
        };
        let mut app = EditorApp::with_options(opts, std::sync::Arc::new(|| {}));
        let t = std::time::Instant::now();
        while *app.worker_state() != WorkerState::Ready {
            assert!(t.elapsed().as_secs() < 60, "the model did not load: {:?}", app.worker_state());
            app.tick(None, None);
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        app.tick(None, None);
        if round == 1 {
            // A renderer replaced while it renders stops on a thread of its own; closing waits for that one too.
            app.act(Action::RestartRenderer);
        }
        assert!(threads_named("render-worker") > 0, "round {round}: the worker runs");
        drop(app);
        // A joined thread can take a moment to leave /proc; one still rendering takes far longer.
        let mut left = threads_named("render-worker");
        for _ in 0..5 {
            if left == 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
            left = threads_named("render-worker");
        }
        assert_eq!(left, 0, "round {round}: a render thread outlived the editor");
    }
}

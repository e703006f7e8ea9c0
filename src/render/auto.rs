//! How a render runs: `--precision auto` (the default) picks, once per model and device, the fastest inference
//! path whose output stays within [`AUTO_MIN_PSNR_DB`] of the exact float32 path on a check input, and says which
//! it picked and why; a fixed precision is taken as asked. [`Fidelity`] is also what `bench --fidelity` reports.

use crate::data::encode::edge_map;
use crate::model::fast::{GenInput, InferPath, OneHot, cpu_native_bf16};
use crate::model::runtime::{GeneratorModel, Precision};
use tch::{Device, Kind, Tensor};

/// What a render asks for: the fastest path whose fidelity holds on this machine, or one precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrecisionChoice {
    #[default]
    Auto,
    /// fp32 is the exact path; fp16 and bf16 run channels-last.
    Fixed(Precision),
}

/// The lowest PSNR against the exact path (on [`check_input`]) that `auto` accepts.
pub const AUTO_MIN_PSNR_DB: f64 = 40.0;

/// How two renders of G differ, on the output scale of 0..255 grey levels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fidelity {
    /// Peak signal-to-noise ratio in dB (infinite when equal).
    pub psnr_db: f64,
    /// The largest difference of one channel of one pixel, in grey levels.
    pub max_levels: f64,
}

impl Fidelity {
    /// `a` and `b` are G outputs in [-1, 1], of one shape.
    pub fn between(a: &Tensor, b: &Tensor) -> Self {
        let d = (a.to_kind(Kind::Double) - b.to_kind(Kind::Double)) * 127.5;
        let mse = d.square().mean(Kind::Double).double_value(&[]);
        let psnr_db = if mse == 0.0 { f64::INFINITY } else { 10.0 * (255.0f64 * 255.0 / mse).log10() };
        Self { psnr_db, max_levels: d.abs().max().double_value(&[]) }
    }
}

/// A structured stand-in for a scene, for checking a path's fidelity without one: `w`×`h` labels in rectangles of
/// all classes below `label_nc`, their boundaries, and per-rectangle feature values in [-1, 1] (`feat_num`
/// channels), from a fixed seed.
pub fn check_input(label_nc: i64, boundaries: bool, feat_num: i64, w: i64, h: i64) -> GenInput {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n.max(1)
    };
    let (cols, rows) = (8, 4);
    let cell = |x: i64, y: i64| ((y * rows / h) * cols + x * cols / w) as usize;
    let classes: Vec<u8> = (0..cols * rows).map(|_| next(label_nc.max(1) as u64) as u8).collect();
    let feats: Vec<f32> = (0..cols * rows * feat_num).map(|_| next(2001) as f32 / 1000.0 - 1.0).collect();
    let mut labels = Vec::with_capacity((w * h) as usize);
    let mut ids = Vec::with_capacity((w * h) as usize);
    for y in 0..h {
        for x in 0..w {
            ids.push(cell(x, y) as u32);
            labels.push(classes[cell(x, y)]);
        }
    }
    let mut rest = Vec::new();
    if boundaries {
        let e = edge_map(&ids, w as usize, h as usize);
        rest.push(Tensor::from_slice(&e).to_kind(Kind::Float).reshape([1, 1, h, w]));
    }
    if feat_num > 0 {
        let f: Vec<f32> = (0..feat_num)
            .flat_map(|c| ids.iter().map(move |&i| (i as i64 * feat_num + c) as usize))
            .map(|i| feats[i])
            .collect();
        rest.push(Tensor::from_slice(&f).reshape([1, feat_num, h, w]));
    }
    let onehot = (label_nc > 0).then(|| OneHot { labels: Tensor::from_slice(&labels).reshape([1, h, w]), label_nc });
    GenInput { onehot, rest: (!rest.is_empty()).then(|| Tensor::cat(&rest, 1)) }
}

/// The paths `auto` tries on a device, fastest first: bf16 channels-last on a CPU with native bf16 (else fp32
/// channels-last); fp16 channels-last on CUDA (then bf16, then fp32 channels-last).
pub fn auto_candidates(device: Device) -> Vec<InferPath> {
    match device {
        Device::Cuda(_) => {
            vec![InferPath::fast(Precision::Fp16), InferPath::fast(Precision::Bf16), InferPath::fast(Precision::Fp32)]
        }
        _ if cpu_native_bf16() => vec![InferPath::fast(Precision::Bf16), InferPath::fast(Precision::Fp32)],
        _ => vec![InferPath::fast(Precision::Fp32)],
    }
}

/// The path a model was set to, and a line saying why (for the status bar, `info` and the render log).
#[derive(Debug, Clone, PartialEq)]
pub struct Chosen {
    pub path: InferPath,
    pub note: String,
}

/// The check input's size for a model: 256×128 rounded up to its size base.
fn check_size(base: i64) -> (i64, i64) {
    let up = |v: i64| (v + base - 1) / base * base;
    (up(256).max(2 * base), up(128).max(2 * base))
}

/// Sets `g` to the path `choice` asks for. For `Auto`: G runs on the check input on the exact path and then on
/// each of [`auto_candidates`] in turn, keeping the first within [`AUTO_MIN_PSNR_DB`] (else the exact path).
/// On CUDA, cuDNN's benchmark mode is switched on (the sizes of a render repeat). May panic in LibTorch (run it
/// under `memory::guard`).
pub fn choose(g: &mut GeneratorModel, choice: PrecisionChoice) -> Chosen {
    let device = g.device();
    if let Device::Cuda(_) = device {
        tch::Cuda::cudnn_set_benchmark(true);
    }
    let p = match choice {
        PrecisionChoice::Fixed(p) => p,
        PrecisionChoice::Auto => return choose_auto(g),
    };
    g.set_precision(p);
    Chosen { path: g.path(), note: format!("{} (--precision {})", g.path().describe(), p.name()) }
}

fn choose_auto(g: &mut GeneratorModel) -> Chosen {
    let cfg = &g.cfg;
    let (w, h) = check_size(cfg.size_base());
    let feat_num = if cfg.use_features() { cfg.feat_num } else { 0 };
    let input = check_input(cfg.label_nc, !cfg.no_instance, feat_num, w, h);
    g.set_path(InferPath::EXACT);
    let exact = g.snapshot();
    let reference = g.infer(&input.to_dense(Kind::Float, Device::Cpu).contiguous());
    let why = match g.device() {
        Device::Cuda(_) => "CUDA".to_string(),
        _ if cpu_native_bf16() => "this CPU has native bf16".to_string(),
        _ => "this CPU has no native bf16".to_string(),
    };
    let mut refused = Vec::new();
    for path in auto_candidates(g.device()) {
        g.restore(&exact);
        g.set_path(path);
        let f = Fidelity::between(&g.infer_input(&input), &reference);
        if f.psnr_db >= AUTO_MIN_PSNR_DB {
            let db = if f.psnr_db.is_finite() { format!("{:.1} dB", f.psnr_db) } else { "equal".to_string() };
            return Chosen {
                path,
                note: format!("{} (auto: {why}; {db} against fp32 on a check input)", path.describe()),
            };
        }
        refused.push(format!("{} {:.1} dB", path.describe(), f.psnr_db));
    }
    g.restore(&exact);
    Chosen {
        path: InferPath::EXACT,
        note: format!(
            "{} (auto: below {AUTO_MIN_PSNR_DB} dB on a check input: {})",
            InferPath::EXACT.describe(),
            refused.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fast::InferPath;

    #[test]
    fn auto_picks_a_path_this_machine_supports_holds_its_fidelity_and_says_which() {
        assert_eq!(
            auto_candidates(Device::Cpu).contains(&InferPath::fast(Precision::Bf16)),
            cpu_native_bf16(),
            "bf16 is tried exactly where the CPU has it"
        );
        let cfg = crate::model::tiny_local_config(8);
        let mut g = GeneratorModel::random(&cfg, Device::Cpu, 1).unwrap();
        let (w, h) = check_size(cfg.size_base());
        let input = check_input(cfg.label_nc, !cfg.no_instance, cfg.feat_num, w, h);
        let want = g.infer(&input.to_dense(Kind::Float, Device::Cpu).contiguous());
        let c = choose(&mut g, PrecisionChoice::Auto);
        assert_eq!(g.path(), c.path);
        assert!(auto_candidates(Device::Cpu).contains(&c.path) || c.path == InferPath::EXACT, "{c:?}");
        assert!(c.note.starts_with(&c.path.describe()) && c.note.contains("auto"), "{}", c.note);
        let dense = input.to_dense(Kind::Float, Device::Cpu).contiguous();
        let got = if c.path.channels_last { g.infer_input(&input) } else { g.infer(&dense) };
        assert!(Fidelity::between(&got, &want).psnr_db >= AUTO_MIN_PSNR_DB, "the check auto made holds");
        // A fixed precision is taken as asked; fp32 is the exact path.
        let c = choose(&mut g, PrecisionChoice::Fixed(Precision::Fp32));
        assert_eq!(c.path, InferPath::EXACT);
        assert!(c.note.contains("--precision fp32"));
    }

    #[test]
    fn fidelity_of_equal_and_of_shifted_outputs() {
        let a = Tensor::zeros([1, 3, 4, 4], (Kind::Float, Device::Cpu));
        assert_eq!(Fidelity::between(&a, &a).psnr_db, f64::INFINITY);
        let f = Fidelity::between(&a, &(&a + 2.0 / 255.0));
        assert!((f.max_levels - 1.0).abs() < 1e-6 && (f.psnr_db - 48.13).abs() < 0.01, "{f:?}");
    }
}

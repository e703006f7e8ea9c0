//! Memory a network or a render needs, estimated from the configuration and the size before anything is
//! allocated, and what the machine has free; and [`guard`], which turns a failure inside LibTorch (an allocation
//! that fails all the same, a bad size) into an error instead of a crash. A job too big is refused with both
//! figures, e.g. "rendering 8192×4096 needs about 14.3 GB; this machine has 9.8 GB free".

use super::config::{ModelConfig, NetG};
use crate::fs::gb;
use std::cell::Cell;
use std::sync::Once;
use tch::Device;

/// The environment variable that caps the memory a job may use (bytes, or with a K, M or G suffix, powers of
/// 1000): for a machine shared with other work.
pub const MEMORY_LIMIT_VAR: &str = "PIX2PIXHD_MAX_MEMORY";

/// A job that does not fit in memory.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{what} needs about {}; {}", gb(*need), match *limited {
    true => format!("{MEMORY_LIMIT_VAR} allows {}", gb(*free)),
    false => format!("this machine has {} free", gb(*free)),
})]
pub struct TooBig {
    pub what: String,
    pub need: u64,
    pub free: u64,
    /// Whether `free` is the cap [`MEMORY_LIMIT_VAR`] sets rather than what the machine has.
    pub limited: bool,
}

/// The cap [`MEMORY_LIMIT_VAR`] sets, if it is set to a size.
fn env_limit() -> Option<u64> {
    let v = std::env::var(MEMORY_LIMIT_VAR).ok()?;
    let v = v.trim().to_ascii_uppercase();
    let (digits, unit) = match v.trim_end_matches('B').char_indices().last()? {
        (i, 'K') => (&v[..i], 1e3),
        (i, 'M') => (&v[..i], 1e6),
        (i, 'G') => (&v[..i], 1e9),
        (i, 'T') => (&v[..i], 1e12),
        _ => (v.trim_end_matches('B'), 1.0),
    };
    let n: f64 = digits.trim().parse().ok()?;
    (n.is_finite() && n >= 0.0).then_some((n * unit) as u64)
}

/// Memory free for new allocations on `device`: Linux's `MemAvailable` for the CPU; `None` where it cannot be
/// told (a CUDA device: LibTorch's own error then says so, through [`guard`]).
pub fn free_bytes(device: Device) -> Option<u64> {
    if device != Device::Cpu {
        return None;
    }
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Refuses `need` bytes on `device` when the machine has less free (or [`MEMORY_LIMIT_VAR`] allows less); passes
/// where the free memory is unknown and no limit is set.
pub fn check_fits(what: impl FnOnce() -> String, need: f64, device: Device) -> Result<(), TooBig> {
    let (free, limit) = (free_bytes(device), env_limit());
    let (allowed, limited) = match (free, limit) {
        (Some(f), Some(l)) => (Some(f.min(l)), l < f),
        (None, Some(l)) => (Some(l), true),
        (f, None) => (f, false),
    };
    match allowed {
        Some(free) if need > free as f64 => {
            Err(TooBig { what: what(), need: need.min(u64::MAX as f64) as u64, free, limited })
        }
        _ => Ok(()),
    }
}

/// Weights of a k×k convolution from `i` to `o` channels, with its bias.
fn conv(k: f64, i: f64, o: f64) -> f64 {
    k * k * i * o + o
}

/// Parameters of a GlobalGenerator of `ngf` filters (without its head when `head` is false).
fn global_params(cfg: &ModelConfig, input: f64, ngf: f64, head: bool) -> f64 {
    let nd = cfg.n_downsample_global.clamp(0, 62) as i32;
    let mut n = conv(7.0, input, ngf);
    for i in 0..nd {
        let m = 2f64.powi(i);
        n += conv(3.0, ngf * m, ngf * m * 2.0);
    }
    let dim = ngf * 2f64.powi(nd);
    n += cfg.n_blocks_global as f64 * 2.0 * conv(3.0, dim, dim);
    for i in 0..nd {
        let m = 2f64.powi(nd - i);
        n += conv(3.0, ngf * m, ngf * m / 2.0);
    }
    if head {
        n += conv(7.0, ngf, cfg.output_nc as f64);
    }
    n
}

/// Parameters of the generator `cfg` describes, counted from its layers (within a few per cent: norms and
/// biases are approximated).
pub fn generator_params(cfg: &ModelConfig) -> f64 {
    let (input, ngf) = (cfg.g_input_nc() as f64, cfg.ngf as f64);
    match cfg.net_g {
        NetG::Global => global_params(cfg, input, ngf, true),
        NetG::Local => {
            let k = cfg.n_local_enhancers.clamp(0, 62) as i32;
            let mut n = global_params(cfg, input, ngf * 2f64.powi(k), false);
            for e in 1..=k {
                let f = ngf * 2f64.powi(k - e);
                n += conv(7.0, input, f) + conv(3.0, f, 2.0 * f);
                n += cfg.n_blocks_local as f64 * 2.0 * conv(3.0, 2.0 * f, 2.0 * f);
                n += conv(3.0, 2.0 * f, f);
            }
            n + conv(7.0, ngf, cfg.output_nc as f64)
        }
    }
}

/// Bytes the generator's weights take as float32.
pub fn generator_bytes(cfg: &ModelConfig) -> f64 {
    generator_params(cfg) * 4.0
}

/// Peak memory of one render of a `width`×`height` scene (padded to the generator's size base), with weights of
/// `elt` bytes per value, beyond what the loaded model already holds: four float32 copies of the input (one-hot
/// labels, boundaries, features: built in parts, joined, padded, shrunk for the pyramid), four full-resolution
/// maps of `ngf` channels, and the maps and output on our side. Measured peaks (maximum resident set of `render`
/// at 1024×512, 2048×1024 and 4096×2048, CPU, float32) grow by 650 to 695 bytes a pixel for the bundled model
/// (estimate 720) and by 631 for its preview generator (global, ngf 32; estimate 816).
pub fn render_bytes(cfg: &ModelConfig, width: usize, height: usize, elt: usize) -> f64 {
    let pixels = width as f64 * height as f64;
    let per_pixel = 4.0 * 4.0 * cfg.g_input_nc() as f64 + 4.0 * elt as f64 * cfg.ngf as f64 + 64.0;
    per_pixel * pixels
}

thread_local! {
    static GUARDED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, turning a panic inside it (tch panics where LibTorch throws) into an error holding LibTorch's first
/// line of explanation. Such a panic prints nothing: the caller reports the error.
pub fn guard<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !GUARDED.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let was = GUARDED.with(|g| g.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(was));
    result.map_err(|p| {
        let msg = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
        torch_message(&msg.unwrap_or_else(|| "unknown error".into()))
    })
}

/// LibTorch's own sentence out of a tch panic message (`called Result::unwrap() on an Err value: Torch("...
/// Exception raised from ...")`).
fn torch_message(panic: &str) -> String {
    let text = panic.split_once("Torch(\"").map_or(panic, |(_, rest)| rest);
    let text = text.split("Exception raised from").next().unwrap_or(text);
    let text = text.replace("\\n", "\n");
    let first = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("unknown error");
    format!("LibTorch failed: {}", first.trim_end_matches("\")"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Preset;
    use crate::model::runtime::GeneratorModel;

    #[test]
    fn the_parameter_count_matches_the_networks_built() {
        for cfg in [
            ModelConfig::preset(Preset::Label2City512p),
            ModelConfig::preset(Preset::Label2City1024p),
            crate::model::tiny_local_config(8),
        ] {
            let built = GeneratorModel::random(&cfg, Device::Cpu, 0).unwrap().param_count() as f64;
            let est = generator_params(&cfg);
            assert!((est / built - 1.0).abs() < 0.02, "{cfg:?}: estimate {est}, built {built}");
        }
    }

    #[test]
    fn a_network_too_big_for_the_machine_is_refused_with_the_figures() {
        let cfg = ModelConfig { ngf: 1_000_000, ..Default::default() };
        let err = GeneratorModel::random(&cfg, Device::Cpu, 0).unwrap_err().to_string();
        assert!(err.contains("ngf 1000000") && err.contains("GB") && err.contains("free"), "{err}");
    }

    #[test]
    fn a_libtorch_failure_is_an_error_not_a_crash() {
        let err = guard(|| tch::Tensor::zeros([2, 3], (tch::Kind::Float, Device::Cpu)).reshape([7])).unwrap_err();
        assert!(err.starts_with("LibTorch failed:") && err.contains("shape"), "{err}");
        assert_eq!(guard(|| 3).unwrap(), 3);
    }
}

//! The pix2pixHD networks (G, D, E, VGG19), losses and weight files, on LibTorch through `tch`.

pub mod checkpoint;
pub mod config;
pub mod discriminator;
pub mod encoder;
pub mod fast;
pub mod generator;
pub mod layers;
pub mod loss;
pub mod memory;
pub mod precision;
pub mod runtime;
pub mod torch_info;
pub mod torch_pickle;
pub mod vgg;

pub use config::{ModelConfig, NetG, Preset};

/// Runs `f` with LibTorch's global random generator seeded with `seed`, holding a process-wide lock.
///
/// The generator is shared by every thread of the process: two threads that each seed it and then draw weights
/// would interleave their draws (tests run in parallel threads, and the editor's worker may build a model while
/// another is trained), so initialisations that must be reproducible go through here. Draws that only need some
/// numbers (test inputs) should too, or they can steal numbers from a seeded initialisation in progress.
pub fn with_seed<T>(seed: i64, f: impl FnOnce() -> T) -> T {
    static GLOBAL_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = GLOBAL_RNG.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(seed);
    f()
}

/// Number of scalar parameters in a var store.
pub fn param_count(vs: &tch::nn::VarStore) -> i64 {
    vs.variables().values().map(|t| t.numel() as i64).sum()
}

/// A tiny two-enhancer local generator with instance features (4 classes), for unit tests.
#[cfg(test)]
pub(crate) fn tiny_local_config(ngf: i64) -> ModelConfig {
    ModelConfig {
        label_nc: 4,
        net_g: NetG::Local,
        ngf,
        n_downsample_global: 2,
        n_blocks_global: 1,
        n_local_enhancers: 2,
        n_blocks_local: 1,
        instance_feat: true,
        nef: 4,
        n_downsample_e: 2,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::runtime::GeneratorModel;
    use super::*;
    use tch::Device;

    /// Two threads building seeded models at the same time each get exactly what they get alone: the seeded
    /// initialisation does not take numbers from the other thread's draws.
    #[test]
    fn seeded_initialisation_is_the_same_while_another_thread_draws() {
        let cfg = ModelConfig { label_nc: 4, ngf: 4, n_downsample_global: 2, n_blocks_global: 1, ..Default::default() };
        let sum = |seed| -> f64 {
            let g = GeneratorModel::random(&cfg, Device::Cpu, seed).unwrap();
            g.vs.variables().values().map(|t| t.abs().sum(tch::Kind::Double).double_value(&[])).sum()
        };
        let (a, b) = (sum(1), sum(2));
        std::thread::scope(|s| {
            let ta = s.spawn(|| (0..200).all(|_| sum(1) == a));
            let tb = s.spawn(|| (0..200).all(|_| sum(2) == b));
            assert!(
                ta.join().unwrap() && tb.join().unwrap(),
                "a seeded initialisation was disturbed by another thread"
            );
        });
    }
}

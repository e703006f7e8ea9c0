//! A generator ready to run: config + weights + device + precision, found from a run folder, a weight file, or a
//! configuration alone. Every command and the editor get their G from here.

use super::checkpoint::{self, CheckpointError, LoadReport};
use super::config::{ConfigError, ModelConfig};
use super::generator::Generator;
pub use super::precision::Precision;
use std::path::{Path, PathBuf};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

/// File names inside a run folder (the reference's names, with the project's `.safetensors`).
pub const CONFIG_FILE: &str = "config.json";
pub const G_STEM: &str = "latest_net_G";

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("model path {0} does not exist")]
    NotFound(PathBuf),
    #[error("model folder {dir} has no {CONFIG_FILE}; give the configuration with flags or --config")]
    NoConfig { dir: PathBuf },
    #[error("model folder {dir} has no generator weights ({G_STEM}.safetensors, .pth or .pt)")]
    NoWeights { dir: PathBuf },
    #[error("CUDA was asked for but is not available (LibTorch reports no CUDA device)")]
    NoCuda,
}

/// Where a model's pieces are: its configuration (if a file holds it) and G's weights (if any).
#[derive(Debug, Clone, Default)]
pub struct ModelFiles {
    pub config: Option<PathBuf>,
    pub g_weights: Option<PathBuf>,
}

impl ModelFiles {
    /// A run folder (config.json + latest_net_G.*) or a single weight file (configured by flags, or by a
    /// config.json beside it).
    pub fn locate(path: &Path) -> Result<Self, ModelError> {
        if path.is_dir() {
            let config = path.join(CONFIG_FILE);
            let g =
                checkpoint::find_weights(path, "G").ok_or_else(|| ModelError::NoWeights { dir: path.to_path_buf() })?;
            Ok(Self { config: config.is_file().then_some(config), g_weights: Some(g) })
        } else if path.is_file() {
            let beside = path.parent().map(|d| d.join(CONFIG_FILE)).filter(|p| p.is_file());
            Ok(Self { config: beside, g_weights: Some(path.to_path_buf()) })
        } else {
            Err(ModelError::NotFound(path.to_path_buf()))
        }
    }
}

/// A model configuration with the file its weights come from, if any.
#[derive(Debug, Clone)]
pub struct ResolvedModel {
    pub cfg: ModelConfig,
    pub files: ModelFiles,
}

impl ResolvedModel {
    /// The model in a run folder or weight file, configured by the `config.json` there (the reference defaults
    /// without one).
    pub fn open(path: &Path) -> Result<Self, ModelError> {
        let files = ModelFiles::locate(path)?;
        let cfg = match &files.config {
            Some(c) => ModelConfig::load(c)?,
            None => ModelConfig::default(),
        };
        Ok(Self { cfg, files })
    }

    /// The folder the weights are in (the run folder), for the files beside them: E, clusters, the preview.
    pub fn dir(&self) -> Option<&Path> {
        self.files
            .g_weights
            .as_ref()
            .map(|w| w.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new(".")))
    }
}

/// Resolves `auto` to CUDA when LibTorch sees a GPU; refuses `cuda` when it does not.
pub fn pick_device(name: &str) -> Result<Device, ModelError> {
    match name {
        "cpu" => Ok(Device::Cpu),
        "auto" => Ok(Device::cuda_if_available()),
        _ => {
            if !tch::Cuda::is_available() {
                return Err(ModelError::NoCuda);
            }
            let idx = name.strip_prefix("cuda:").and_then(|i| i.parse().ok()).unwrap_or(0);
            Ok(Device::Cuda(idx))
        }
    }
}

/// G with its var store, on one device, in one precision.
pub struct GeneratorModel {
    pub cfg: ModelConfig,
    pub vs: nn::VarStore,
    pub net: Generator,
    pub precision: Precision,
}

impl std::fmt::Debug for GeneratorModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratorModel").field("cfg", &self.cfg).field("precision", &self.precision).finish()
    }
}

impl GeneratorModel {
    /// G with the reference's random initialisation, seeded.
    pub fn random(cfg: &ModelConfig, device: Device, seed: i64) -> Result<Self, ModelError> {
        cfg.validate()?;
        let (vs, net) = super::with_seed(seed, || {
            let vs = nn::VarStore::new(device);
            let net = Generator::new(&vs.root(), cfg);
            (vs, net)
        });
        Ok(Self { cfg: cfg.clone(), vs, net, precision: Precision::Fp32 })
    }

    /// G built from `cfg` and filled from a weight file.
    pub fn load(cfg: &ModelConfig, weights: &Path, device: Device) -> Result<(Self, LoadReport), ModelError> {
        let m = Self::random(cfg, device, 0)?;
        let report = checkpoint::load_var_store(&m.vs, weights, |_| false)?;
        Ok((m, report))
    }

    pub fn device(&self) -> Device {
        self.vs.device()
    }

    pub fn param_count(&self) -> i64 {
        super::param_count(&self.vs)
    }

    pub fn set_precision(&mut self, p: Precision) {
        self.vs.set_kind(p.kind());
        self.precision = p;
    }

    /// G(x) without autograd; `x` is converted to the model's device and precision, the result is float32.
    pub fn infer(&self, x: &Tensor) -> Tensor {
        tch::no_grad(|| {
            self.net.forward(&x.to_device(self.device()).to_kind(self.precision.kind())).to_kind(Kind::Float)
        })
    }

    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        checkpoint::save_var_store(&self.vs, path)
    }
}

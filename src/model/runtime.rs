//! A generator ready to run: config + weights + device + precision, found from a run folder, a weight file, or a
//! configuration alone. Every command and the editor get their G from here.

use super::checkpoint::{self, CheckpointError, LoadReport};
use super::config::{ConfigError, ModelConfig};
use super::fast::{self, InferPath};
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
    #[error(transparent)]
    TooBig(#[from] super::memory::TooBig),
    #[error("cannot build the network: {0}")]
    Torch(String),
    #[error("--device {0}: CUDA was asked for but is not available (LibTorch reports no CUDA device)")]
    NoCuda(String),
    #[error("--device {0:?} is not a device; expected cpu, cuda, cuda:N (N = 0, 1, ...) or auto")]
    UnknownDevice(String),
    #[error("--device {name}: this machine has {count} CUDA device(s), numbered from 0")]
    NoSuchCuda { name: String, count: usize },
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

/// What a `--device` value asks for: `None` for auto, else CPU or a CUDA device index.
pub fn parse_device(name: &str) -> Result<Option<Device>, ModelError> {
    let unknown = || ModelError::UnknownDevice(name.to_string());
    match name.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(None),
        "cpu" => Ok(Some(Device::Cpu)),
        "cuda" => Ok(Some(Device::Cuda(0))),
        other => {
            let idx = other.strip_prefix("cuda:").ok_or_else(unknown)?;
            if idx.is_empty() || !idx.bytes().all(|b| b.is_ascii_digit()) {
                return Err(unknown());
            }
            Ok(Some(Device::Cuda(idx.parse().map_err(|_| unknown())?)))
        }
    }
}

/// Resolves `auto` to CUDA when LibTorch sees a GPU; refuses `cuda` when it does not, an index it does not have,
/// and any other string (with the forms it takes).
pub fn pick_device(name: &str) -> Result<Device, ModelError> {
    match parse_device(name)? {
        None => Ok(Device::cuda_if_available()),
        Some(Device::Cuda(i)) => {
            if !tch::Cuda::is_available() {
                return Err(ModelError::NoCuda(name.to_string()));
            }
            let count = tch::Cuda::device_count().max(0) as usize;
            if i >= count {
                return Err(ModelError::NoSuchCuda { name: name.to_string(), count });
            }
            Ok(Device::Cuda(i))
        }
        Some(d) => Ok(d),
    }
}

/// A model's weights and inference path at one time (`GeneratorModel::snapshot`).
pub struct Snapshot {
    weights: std::collections::HashMap<String, Tensor>,
    path: InferPath,
}

/// G with its var store, on one device, on one inference path (precision and memory layout).
pub struct GeneratorModel {
    pub cfg: ModelConfig,
    pub vs: nn::VarStore,
    pub net: Generator,
    path: InferPath,
}

impl std::fmt::Debug for GeneratorModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratorModel").field("cfg", &self.cfg).field("path", &self.path).finish()
    }
}

impl GeneratorModel {
    /// G with the reference's random initialisation, seeded.
    /// A configuration whose weights cannot fit in the memory free is refused before anything is allocated.
    pub fn random(cfg: &ModelConfig, device: Device, seed: i64) -> Result<Self, ModelError> {
        cfg.validate()?;
        let what = || {
            let params = super::memory::generator_params(cfg);
            format!("a generator with ngf {} ({:.2e} parameters)", cfg.ngf, params)
        };
        super::memory::check_fits(what, super::memory::generator_bytes(cfg), device)?;
        let (vs, net) = super::memory::guard(|| {
            super::with_seed(seed, || {
                let vs = nn::VarStore::new(device);
                let net = Generator::new(&vs.root(), cfg);
                (vs, net)
            })
        })
        .map_err(ModelError::Torch)?;
        Ok(Self { cfg: cfg.clone(), vs, net, path: InferPath::EXACT })
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

    pub fn precision(&self) -> Precision {
        self.path.precision
    }

    pub fn path(&self) -> InferPath {
        self.path
    }

    /// Runs on `path` from now on: the weights are converted to its kind, and their 4-D tensors to its layout.
    /// Going to a lower precision rounds the weights for good (see `snapshot`).
    pub fn set_path(&mut self, path: InferPath) {
        self.vs.set_kind(path.precision.kind());
        tch::no_grad(|| {
            for mut v in self.vs.variables().into_values() {
                if v.dim() == 4 {
                    let laid = if path.channels_last { fast::to_channels_last(&v) } else { v.contiguous() };
                    v.set_data(&laid);
                }
            }
        });
        self.path = path;
    }

    /// A copy of the weights as they are now, and the path: `set_path` to a lower precision rounds the weights,
    /// and only `restore` brings the originals back.
    pub fn snapshot(&self) -> Snapshot {
        let weights = tch::no_grad(|| self.vs.variables().into_iter().map(|(k, v)| (k, v.copy())).collect());
        Snapshot { weights, path: self.path }
    }

    /// The weights and path of `snap` (taken from this model).
    pub fn restore(&mut self, snap: &Snapshot) {
        tch::no_grad(|| {
            for (name, mut v) in self.vs.variables() {
                if let Some(w) = snap.weights.get(&name) {
                    v.set_data(w);
                }
            }
        });
        self.path = snap.path;
    }

    /// `set_path(InferPath::for_precision(p))`: fp32 exact, fp16 and bf16 on the fast path.
    pub fn set_precision(&mut self, p: Precision) {
        self.set_path(InferPath::for_precision(p));
    }

    /// G(x) without autograd for a dense input `x` (converted to the model's device and precision, and layout on
    /// the fast path); the result is float32 NCHW.
    pub fn infer(&self, x: &Tensor) -> Tensor {
        let x = x.to_device(self.device()).to_kind(self.path.precision.kind());
        if self.path.channels_last {
            return self.infer_input(&fast::GenInput::dense(x));
        }
        tch::no_grad(|| self.net.forward(&x).to_kind(Kind::Float))
    }

    /// G on the fast path (channels-last, fused kernels) from its input in parts, whatever the model's layout;
    /// the result is float32 NCHW.
    pub fn infer_input(&self, input: &fast::GenInput) -> Tensor {
        tch::no_grad(|| self.net.forward_fast(input))
    }

    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        checkpoint::save_var_store(&self.vs, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_strings_are_parsed_strictly() {
        assert_eq!(parse_device("auto").unwrap(), None);
        assert_eq!(parse_device("cpu").unwrap(), Some(Device::Cpu));
        assert_eq!(parse_device("CUDA").unwrap(), Some(Device::Cuda(0)));
        assert_eq!(parse_device("cuda:3").unwrap(), Some(Device::Cuda(3)));
        for bad in ["tpu", "", "cuda:", "cuda:-1", "cuda:x", "gpu", "cuda:1:2"] {
            let err = parse_device(bad).unwrap_err().to_string();
            assert!(err.contains("cpu, cuda, cuda:N") && err.contains(&format!("{bad:?}")), "{bad}: {err}");
        }
    }
}

//! Reading and writing network weights.
//!
//! `.safetensors` is the project's format. PyTorch state dicts written by `torch.save` (zip format, `.pth`/`.pt`/
//! `.bin`) load directly, so a user's existing pix2pixHD checkpoint works as it is. Keys are the reference state-dict
//! names. InstanceNorm running statistics (written by PyTorch < 0.4) are ignored; anything else that does not fit —
//! missing, unexpected or wrongly shaped — is an error that lists the keys.

use super::torch_pickle::read_torch_zip;
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use tch::{Tensor, nn};

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("weight file {path} does not exist")]
    NotFound { path: PathBuf },
    #[error("cannot read weight file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("weight file {path} is empty")]
    Empty { path: PathBuf },
    #[error(
        "weight file {path} is a legacy (pre-1.6, non-zip) PyTorch file; convert it once with \
         `.venv/bin/python scripts/convert_legacy_pth.py {path} OUT.pt` and load OUT.pt"
    )]
    Legacy { path: PathBuf },
    #[error("weight file {path} is not a readable {format} file (corrupt or truncated?): {message}")]
    Corrupt { path: PathBuf, format: &'static str, message: String },
    #[error("weight file {path} has extension {ext:?}; expected .safetensors, .pth, .pt or .bin")]
    UnknownFormat { path: PathBuf, ext: String },
    #[error("weight file {path} does not fit the network:{details}")]
    Mismatch { path: PathBuf, details: String },
    #[error(transparent)]
    Write(#[from] crate::fs::WriteError),
}

/// What `load_var_store` skipped, for the curious user (`info`).
#[derive(Debug, Default)]
pub struct LoadReport {
    pub loaded: usize,
    /// Running-statistics keys of old InstanceNorm layers, ignored by design.
    pub ignored_running_stats: Vec<String>,
    /// Keys the caller chose to skip (e.g. VGG's classifier).
    pub ignored_other: Vec<String>,
}

fn is_running_stat(key: &str) -> bool {
    key.ends_with(".running_mean") || key.ends_with(".running_var") || key.ends_with(".num_batches_tracked")
}

/// The weight file of network `net` ("G", "D" or "E") in a run folder: `latest_net_<net>` in the project's format
/// or PyTorch's (`.safetensors`, `.pth`, `.pt`, in that order of preference).
pub fn find_weights(dir: &Path, net: &str) -> Option<PathBuf> {
    ["safetensors", "pth", "pt"].iter().map(|e| dir.join(format!("latest_net_{net}.{e}"))).find(|p| p.is_file())
}

/// Reads every named tensor of a weight file, choosing the reader by extension and checking the file's signature
/// so that the error says what is wrong (missing, empty, legacy format, truncated) instead of a LibTorch trace.
pub fn read_tensors(path: &Path) -> Result<Vec<(String, Tensor)>, CheckpointError> {
    let p = || path.to_path_buf();
    let meta = crate::fs::check_regular(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => CheckpointError::NotFound { path: p() },
        _ => CheckpointError::Io { path: p(), source: e },
    })?;
    if meta.len() == 0 {
        return Err(CheckpointError::Empty { path: p() });
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "safetensors" => Tensor::read_safetensors(path).map_err(|e| CheckpointError::Corrupt {
            path: p(),
            format: "safetensors",
            message: e.to_string(),
        }),
        "pth" | "pt" | "bin" => {
            let mut magic = [0u8; 4];
            std::fs::File::open(path)
                .and_then(|mut f| f.read_exact(&mut magic))
                .map_err(|e| CheckpointError::Io { path: p(), source: e })?;
            if magic != *b"PK\x03\x04" {
                // torch.save before 1.6 wrote a bare pickle stream (protocol 2 starts 0x80 0x02).
                if magic[0] == 0x80 {
                    return Err(CheckpointError::Legacy { path: p() });
                }
                return Err(CheckpointError::Corrupt {
                    path: p(),
                    format: "PyTorch zip",
                    message: "it does not start with a zip signature".into(),
                });
            }
            read_torch_zip(path).map_err(|e| CheckpointError::Corrupt {
                path: p(),
                format: "PyTorch zip",
                message: e.to_string(),
            })
        }
        _ => Err(CheckpointError::UnknownFormat { path: p(), ext }),
    }
}

/// Fills every variable of `vs` from the file. Running statistics and keys for which `ignore` says true are
/// skipped; any other mismatch is an error listing the missing, unexpected and wrongly shaped keys.
pub fn load_var_store(
    vs: &nn::VarStore,
    path: &Path,
    ignore: impl Fn(&str) -> bool,
) -> Result<LoadReport, CheckpointError> {
    let tensors = read_tensors(path)?;
    let mut report = LoadReport::default();
    let mut file: HashMap<String, Tensor> = HashMap::new();
    for (k, t) in tensors {
        if is_running_stat(&k) {
            report.ignored_running_stats.push(k);
        } else if ignore(&k) {
            report.ignored_other.push(k);
        } else {
            file.insert(k, t);
        }
    }
    let mut vars = vs.variables();
    let mut missing: Vec<String> = vars.keys().filter(|k| !file.contains_key(*k)).cloned().collect();
    let mut unexpected: Vec<String> = file.keys().filter(|k| !vars.contains_key(*k)).cloned().collect();
    let mut wrong_shape: Vec<String> = vars
        .iter()
        .filter_map(|(k, v)| {
            let t = file.get(k)?;
            (t.size() != v.size()).then(|| format!("{k} (file {:?}, network {:?})", t.size(), v.size()))
        })
        .collect();
    if !(missing.is_empty() && unexpected.is_empty() && wrong_shape.is_empty()) {
        missing.sort();
        unexpected.sort();
        wrong_shape.sort();
        let mut details = String::new();
        for (what, keys) in [("missing", &missing), ("unexpected", &unexpected), ("wrong shape", &wrong_shape)] {
            if !keys.is_empty() {
                details.push_str(&format!("\n  {} {what}: {}", keys.len(), abbreviate(keys)));
            }
        }
        if !missing.is_empty() && !unexpected.is_empty() {
            details
                .push_str("\n  (is the model configuration right? e.g. --net-g local --ngf 32 for label2city_1024p)");
        }
        return Err(CheckpointError::Mismatch { path: path.to_path_buf(), details });
    }
    tch::no_grad(|| {
        for (k, v) in vars.iter_mut() {
            let src = &file[k];
            v.copy_(&src.to_device(v.device()).to_kind(v.kind()));
        }
    });
    report.loaded = vars.len();
    Ok(report)
}

fn abbreviate(keys: &[String]) -> String {
    const SHOW: usize = 12;
    let mut s = keys.iter().take(SHOW).cloned().collect::<Vec<_>>().join(", ");
    if keys.len() > SHOW {
        s.push_str(&format!(", ... ({} more)", keys.len() - SHOW));
    }
    s
}

/// Writes every variable of `vs` to a `.safetensors` file atomically (a temporary file in the same folder, then a
/// rename), in CPU float form with keys sorted, so the same weights always give the same bytes.
pub fn save_var_store(vs: &nn::VarStore, path: &Path) -> Result<(), CheckpointError> {
    let vars: BTreeMap<String, Tensor> = vs.variables().into_iter().collect();
    let tensors: Vec<(String, Tensor)> =
        vars.into_iter().map(|(k, v)| (k, v.detach().to_device(tch::Device::Cpu).contiguous())).collect();
    write_tensors(path, &tensors)
}

/// Writes named tensors to a `.safetensors` file atomically.
pub fn write_tensors(path: &Path, tensors: &[(String, Tensor)]) -> Result<(), CheckpointError> {
    crate::fs::write_atomically(path, |tmp| Tensor::write_safetensors(tensors, tmp).map_err(std::io::Error::other))?;
    Ok(())
}

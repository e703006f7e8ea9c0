//! What LibTorch this process runs on: version, where it was loaded from, CUDA and the GPU.

use std::path::PathBuf;

/// The LibTorch version this binary was built against (torch-sys checks it at build time).
pub const BUILT_AGAINST: &str = env!("PIX2PIXHD_LIBTORCH_VERSION");

/// The folder the running process loaded `libtorch_cpu.so` from (Linux; `None` elsewhere or before load).
pub fn loaded_libtorch_dir() -> Option<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.ends_with("/libtorch_cpu.so"))
        .and_then(|p| PathBuf::from(p).parent().map(PathBuf::from))
}

/// The version of the LibTorch actually loaded, read from the `version.py` a PyTorch wheel keeps beside `lib/`.
pub fn runtime_version() -> Option<String> {
    let lib = loaded_libtorch_dir()?;
    let text = std::fs::read_to_string(lib.parent()?.join("version.py")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("__version__ = "))
        .map(|v| v.trim().trim_matches('\'').trim_matches('"').to_string())
}

/// GPU names as `nvidia-smi` reports them (LibTorch's C API has no device-name call).
pub fn gpu_names() -> Vec<String> {
    std::process::Command::new("nvidia-smi")
        .args(["--query-gpu=name,memory.total", "--format=csv,noheader"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().map(|l| l.trim().to_string()).collect())
        .unwrap_or_default()
}

/// A short report for `pix2pixhd info` and benchmark headers.
pub fn report() -> String {
    // Touch LibTorch first so that it is loaded and mapped.
    let threads = tch::get_num_threads();
    let cuda = tch::Cuda::is_available();
    let mut s = format!(
        "LibTorch: {} (built against {}), loaded from {}\nCPU threads: {threads}, native bf16: {}\nCUDA available: {cuda}",
        runtime_version().unwrap_or_else(|| "unknown".into()),
        BUILT_AGAINST,
        loaded_libtorch_dir().map_or("unknown".into(), |p| p.display().to_string()),
        if super::fast::cpu_native_bf16() { "yes" } else { "no" },
    );
    if cuda {
        s.push_str(&format!(
            "\nCUDA devices: {}, cuDNN available: {} (version {}), CUDA runtime {}",
            tch::Cuda::device_count(),
            tch::Cuda::cudnn_is_available(),
            tch::utils::version_cudnn(),
            tch::utils::version_cudart()
        ));
        for (i, name) in gpu_names().iter().enumerate() {
            s.push_str(&format!("\nGPU {i}: {name}"));
        }
    }
    s
}

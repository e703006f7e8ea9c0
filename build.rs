//! Makes the binary find LibTorch by itself at run time, and keeps CUDA linked.
//!
//! torch-sys tells direct dependents where LibTorch's shared libraries live (`DEP_TCH_LIBTORCH_LIB`, its `links`
//! key is `tch`). We bake that folder into the binary as an rpath, so no `LD_LIBRARY_PATH` is needed. rustc links
//! with `--as-needed`, which drops `libtorch_cuda.so` (nothing references it by symbol) and leaves
//! `tch::Cuda::is_available()` false on a GPU machine; `--no-as-needed` around it keeps it.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Some(lib) = std::env::var_os("DEP_TCH_LIBTORCH_LIB").map(PathBuf::from) else {
        println!("cargo:warning=torch-sys did not report its LibTorch folder; the binary will need LD_LIBRARY_PATH");
        println!("cargo:rustc-env=PIX2PIXHD_LIBTORCH_VERSION=unknown");
        return;
    };
    // A PyTorch wheel keeps its version beside lib/; shown by `pix2pixhd info`.
    let version = std::fs::read_to_string(lib.join("../version.py"))
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| l.strip_prefix("__version__ = ").map(|v| v.trim().trim_matches('\'').to_string()))
        })
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=PIX2PIXHD_LIBTORCH_VERSION={version}");
    // Resolve links so the rpath keeps working if the `.venv/libtorch` link is recreated differently.
    let lib = lib.canonicalize().unwrap_or(lib);
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
}

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
        return;
    };
    // Resolve links so the rpath keeps working if the `.venv/libtorch` link is recreated differently.
    let lib = lib.canonicalize().unwrap_or(lib);
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
}

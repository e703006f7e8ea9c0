//! Makes the binary find LibTorch by itself at run time, keeps CUDA linked, and builds three small C++ shims.
//!
//! torch-sys tells direct dependents where LibTorch's shared libraries live (`DEP_TCH_LIBTORCH_LIB`, its `links`
//! key is `tch`). We bake that folder into the binary as an rpath, so no `LD_LIBRARY_PATH` is needed. rustc links
//! with `--as-needed`, which drops `libtorch_cuda.so` (nothing references it by symbol) and leaves
//! `tch::Cuda::is_available()` false on a GPU machine; `--no-as-needed` around it keeps it.
//!
//! The shims are C entry points into LibTorch that tch 0.24 does not expose: the per-device autocast dtype
//! (`csrc/autocast_shim.cpp`, for `--amp bf16`; it needs no headers) the fused Adam kernel
//! (`csrc/fused_adam.cpp`) and the fast inference path's kernels (`csrc/fast_infer.cpp`), both built against
//! LibTorch's headers. `cc` is the crate torch-sys builds its C++ with.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    println!("cargo:rerun-if-changed=csrc/autocast_shim.cpp");
    println!("cargo:rerun-if-changed=csrc/fused_adam.cpp");
    println!("cargo:rerun-if-changed=csrc/fast_infer.cpp");
    let lib = std::env::var_os("DEP_TCH_LIBTORCH_LIB").map(PathBuf::from).expect(
        "torch-sys did not report its LibTorch folder (DEP_TCH_LIBTORCH_LIB); run `make` to set up .venv/libtorch",
    );

    cc::Build::new().cpp(true).file("csrc/autocast_shim.cpp").flag_if_supported("-std=c++17").compile("autocast_shim");
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".into());
    for (file, name) in [("csrc/fused_adam.cpp", "fused_adam"), ("csrc/fast_infer.cpp", "fast_infer")] {
        cc::Build::new()
            .cpp(true)
            .file(file)
            .include(lib.join("../include"))
            .include(lib.join("../include/torch/csrc/api/include"))
            .flag("-std=c++17")
            .opt_level(3)
            .define("_GLIBCXX_USE_CXX11_ABI", abi.as_str())
            .warnings(false)
            .compile(name);
    }

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

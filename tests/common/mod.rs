//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tch::Tensor;

/// The project's python (made by `make venv`).
pub fn python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python")
}

/// Runs the PyTorch reference once per test binary and returns the folder of its fixtures.
pub fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("reference-fixtures-{}", std::process::id()));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/reference.py");
        let out = std::process::Command::new(python())
            .arg(&script)
            .arg(&dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {} (run `make venv` first): {e}", python().display()));
        assert!(
            out.status.success(),
            "PyTorch reference failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

/// The tensors of a `.pt` file written by `torch.save(dict)`.
pub fn load_io(name: &str) -> HashMap<String, Tensor> {
    let path = fixtures().join(name);
    Tensor::loadz_multi(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).into_iter().collect()
}

pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size(), "shape mismatch");
    (a - b).abs().max().double_value(&[])
}

/// Asserts the parity bound of the foundation issue: max abs error <= 1e-4.
#[track_caller]
pub fn assert_close(what: &str, got: &Tensor, want: &Tensor) {
    let d = max_abs_diff(got, want);
    eprintln!("{what}: max abs error {d:e}");
    assert!(d <= 1e-4, "{what}: max abs error {d:e} > 1e-4");
    // A comparison against an all-zero or constant reference would prove nothing.
    assert!(want.abs().max().double_value(&[]) > 1e-3, "{what}: reference output is degenerate");
}

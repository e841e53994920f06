//! Shared by the oracle tests: finding the project's Python, running an oracle script, scratch
//! folders and pixel-agreement figures.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Python that has torch/torchvision/PIL: `LGD_PYTHON`, else `<workspace>/.venv/bin/python`.
/// Missing python is a failure, never a skip: the equivalence tests are the point of this crate.
pub fn python() -> PathBuf {
    let p = match std::env::var_os("LGD_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"),
    };
    assert!(
        p.exists(),
        "the oracle Python {} does not exist: run `make setup` in the workspace root (or set LGD_PYTHON)",
        p.display()
    );
    p
}

/// Runs `tests/oracle/<script> args…`, failing the test with the oracle's stderr on error.
pub fn run_oracle(script: &str, args: &[&Path]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle").join(script);
    let out = Command::new(python())
        .arg(&path)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot start the oracle python ({e}): run `make setup`"));
    assert!(
        out.status.success(),
        "oracle {script} failed (if imports fail, run `make setup`):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A fresh scratch folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lgd-datasets-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch folder");
    dir
}

/// (fraction of bytes within `tol`, fraction exactly equal, largest difference).
pub fn agreement(a: &[u8], b: &[u8], tol: u8) -> (f64, f64, u8) {
    assert_eq!(a.len(), b.len(), "sizes differ");
    let mut within = 0usize;
    let mut exact = 0usize;
    let mut max = 0u8;
    for (&x, &y) in a.iter().zip(b) {
        let d = x.abs_diff(y);
        within += usize::from(d <= tol);
        exact += usize::from(d == 0);
        max = max.max(d);
    }
    let n = a.len().max(1) as f64;
    (within as f64 / n, exact as f64 / n, max)
}

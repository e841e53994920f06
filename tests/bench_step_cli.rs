//! `lgd bench step` and its PyTorch twin as `scripts/bench-step.sh` runs them, on the CPU with the
//! tiny teacher: each prints one JSON object with the figures and the configuration they belong
//! to; the twin refuses fp16 on the CPU unless another precision is asked for. fp32 throughout:
//! bf16 CPU kernels without native support are ~9× slower here, and the test is about the contract.
//! The original end-to-end twin (its DataLoader feeding the same step) is checked here too.

mod support;

use std::process::{Command, Output};

use serde_json::Value;

const SMALL: [&str; 13] = [
    "--device",
    "cpu",
    "--teacher",
    "tiny",
    "--batch",
    "4",
    "--steps",
    "3",
    "--warmup",
    "1",
    "--json",
    "--classes",
    "1000",
];

fn json_of(output: &Output, what: &str) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{what} failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{what} printed no JSON object ({e}): {stdout}"))
}

fn check_figures(report: &Value, side: &str) {
    assert_eq!(report["side"], side, "{report}");
    for (field, expected) in [("device", "cpu"), ("teacher", "tiny"), ("student", "resnet18")] {
        assert_eq!(report[field], expected, "{field}: {report}");
    }
    for (field, expected) in
        [("batch", 4), ("steps", 3), ("warmup", 1), ("image_size", 64), ("embed_dim", 32), ("classes", 1000)]
    {
        assert_eq!(report[field], expected, "{field}: {report}");
    }
    for field in ["precision", "channels_last", "skipped_steps"] {
        assert!(!report[field].is_null(), "{field} missing: {report}");
    }
    for field in ["images_per_second", "ms_per_step", "seconds"] {
        assert!(report[field].as_f64().is_some_and(|v| v > 0.0), "{field} not > 0: {report}");
    }
    assert!(report["final_loss"].as_f64().is_some_and(f64::is_finite), "{report}");
}

#[test]
fn lgd_bench_step_prints_its_figures_as_json() {
    let output = Command::new(env!("CARGO_BIN_EXE_lgd"))
        .args(["bench", "step", "--precision", "fp32", "--channels-last"])
        .args(SMALL)
        .output()
        .unwrap();
    let report = json_of(&output, "lgd bench step");
    check_figures(&report, "lgd");
    assert_eq!(
        (report["precision"].as_str(), report["channels_last"].as_bool()),
        (Some("fp32"), Some(true)),
        "{report}"
    );
}

fn twin(args: &[&str]) -> Output {
    Command::new(support::python())
        .arg(support::root().join("scripts/bench_step_torch.py"))
        .args(args)
        .args(SMALL)
        .output()
        .unwrap()
}

#[test]
fn torch_twin_prints_the_same_figures_and_refuses_fp16_on_the_cpu() {
    let best = json_of(&twin(&["--config", "best", "--precision", "fp32"]), "bench_step_torch.py --config best");
    check_figures(&best, "torch-best");
    assert_eq!((best["precision"].as_str(), best["channels_last"].as_bool()), (Some("fp32"), Some(true)), "{best}");
    assert_eq!(best["vectorised_bank"], true, "{best}");
    assert_eq!(best["fused_sgd"], true, "{best}");

    let refused = twin(&["--config", "original"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("needs a CUDA device") && stderr.contains("--precision fp32"),
        "{stderr}"
    );

    let original =
        json_of(&twin(&["--config", "original", "--precision", "fp32"]), "--config original --precision fp32");
    check_figures(&original, "torch-original");
    assert_eq!(
        (original["precision"].as_str(), original["vectorised_bank"].as_bool()),
        (Some("fp32"), Some(false)),
        "{original}"
    );
    assert!(
        original["notes"][0].as_str().is_some_and(|n| n.contains("fp16 replaced by fp32")),
        "the override is reported: {original}"
    );
}

fn original_end_to_end(data: &std::path::Path, extra: &[&str]) -> Output {
    Command::new(support::python())
        .arg(support::root().join("scripts/bench_end_to_end_torch.py"))
        .args(["--data".as_ref(), data.as_os_str()])
        .args(["--config", "original", "--device", "cpu", "--teacher", "tiny", "--workers", "2", "--json"])
        .args(extra)
        .output()
        .unwrap()
}

/// The original system end to end (its DataLoader feeding its step), as bench-end-to-end.sh runs it:
/// 4 steps of 4 from 10 images, so the sampler goes round the folder more than once.
#[test]
fn original_end_to_end_twin_feeds_its_step_from_a_dataloader() {
    let data = support::scratch("original-end-to-end");
    support::write_image_folder(&data, &["cat", "dog"], 5);
    let args = ["--precision", "fp32", "--batch", "4", "--warmup", "1", "--steps", "3"];
    let report = json_of(&original_end_to_end(&data, &args), "bench_end_to_end_torch.py");
    assert_eq!(report["side"], "torch-original-end-to-end", "{report}");
    for (field, expected) in
        [("images", 10), ("batch", 4), ("workers", 2), ("steps", 3), ("warmup", 1), ("classes", 1000)]
    {
        assert_eq!(report[field], expected, "{field}: {report}");
    }
    assert_eq!(
        (report["vectorised_bank"].as_bool(), report["channels_last"].as_bool()),
        (Some(false), Some(false)),
        "{report}"
    );
    for field in ["images_per_second", "seconds", "warmup_seconds"] {
        assert!(report[field].as_f64().is_some_and(|v| v > 0.0), "{field} not > 0: {report}");
    }
    assert!(report["data_wait_fraction"].as_f64().is_some_and(|f| (0.0..1.0).contains(&f)), "{report}");
    assert!(report["final_loss"].as_f64().is_some_and(f64::is_finite), "{report}");

    // By default the warm-up is one round of batches (one per worker) and the timed part four.
    let rounds = json_of(&original_end_to_end(&data, &["--precision", "fp32", "--batch", "2"]), "default rounds");
    assert_eq!((rounds["warmup"].as_u64(), rounds["steps"].as_u64()), (Some(2), Some(8)), "{rounds}");

    let fp16 = original_end_to_end(&data, &["--batch", "4"]);
    let stderr = String::from_utf8_lossy(&fp16.stderr);
    assert!(!fp16.status.success() && stderr.contains("needs a CUDA device"), "{stderr}");
}

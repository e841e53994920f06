//! The CI smoke config end to end: `lgd train` with a tiny random CLIP teacher (OpenAI archive
//! layout), the text bank computed from prompts at start and cached, a few CPU epochs — and the
//! metrics file shows the loss falling; TensorBoard reads the same losses from the event files,
//! and `status.json` ends in state `finished` with the per-stage report; without its class-name
//! list the same config fails at start naming the field.

mod support;

use std::process::Command;

#[test]
fn smoke_config_trains_and_the_loss_falls() {
    let dir = support::scratch("smoke");
    std::fs::create_dir_all(dir.join("teacher")).unwrap();
    support::run_oracle("clip_towers_oracle.py", &[&dir.join("teacher")]);
    support::write_image_folder(&dir.join("data/train"), &["cat", "dog", "fish"], 8);
    std::fs::write(dir.join("classnames.txt"), "cat\ndog\nfish\n").unwrap();
    std::fs::copy(support::root().join("configs/ci-smoke.toml"), dir.join("run.toml")).unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_lgd"))
        .args(["--log-format", "json", "train", "--config", "run.toml", "--run-dir", "run"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("computing the text bank from prompts"), "{stderr}");
    assert!(dir.join("run/text_bank.safetensors").exists(), "the bank is cached in the run folder");

    let metrics = std::fs::read_to_string(dir.join("run/metrics.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = metrics.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let losses: Vec<f64> = records.iter().filter_map(|r| r["loss"].as_f64()).collect();
    assert_eq!(losses.len(), 36, "6 epochs × 6 steps, each logged");
    let first = losses[..6].iter().sum::<f64>() / 6.0;
    let last = losses[losses.len() - 6..].iter().sum::<f64>() / 6.0;
    println!("smoke: mean loss of the first epoch {first:.4}, of the last {last:.4}");
    assert!(last < first, "the loss falls: {first} -> {last}");
    let validations = records.iter().filter(|r| r.get("validation").is_some()).count();
    assert_eq!(validations, 3, "at start, after epoch 3 and after epoch 6");
    let zero_shot = records.iter().rev().find_map(|r| r["validation"]["student_top1"].as_f64());
    assert!(zero_shot.is_some(), "the bank's classes are the dataset's: zero-shot top-1 is reported");

    let events = Command::new(support::python())
        .arg(support::root().join("tests/oracle/read_tensorboard_events.py"))
        .arg(dir.join("run/tensorboard"))
        .output()
        .unwrap();
    assert!(events.status.success(), "{}", String::from_utf8_lossy(&events.stderr));
    let events: serde_json::Value = serde_json::from_slice(&events.stdout).unwrap();
    let board: Vec<f64> = events["scalars"]["loss/total"]
        .as_array()
        .expect("loss/total in the event files")
        .iter()
        .map(|e| e[2].as_str().unwrap().parse::<f64>().unwrap())
        .collect();
    assert_eq!(board.len(), losses.len(), "one TensorBoard point per logged step");
    for (tb, json) in board.iter().zip(&losses) {
        assert_eq!(*tb, *json as f32 as f64, "TensorBoard holds the logged loss (as f32)");
    }
    assert!(events["scalars"]["validation/agreement"].as_array().is_some_and(|v| v.len() == 3));
    assert!(events["scalars"]["stage_busy/decode"].is_array(), "per-stage utilisation is logged");
    assert!(events["scalars"]["memory/host_rss_mib"].is_array(), "the resident set is logged");
    let logged: Vec<&serde_json::Value> = records.iter().filter(|r| r.get("loss").is_some()).collect();
    assert!(
        logged.iter().all(|r| r["memory"]["host_rss_bytes"].as_u64().is_some_and(|b| b > 0)),
        "host RSS in every step record"
    );
    assert!(logged.iter().all(|r| r["memory"]["gpu"].is_null()), "no GPU figures on a CPU run");

    let status = lgd::daemon::status::RunStatus::read(&dir.join("run")).unwrap();
    assert_eq!(status.state, lgd::daemon::status::RunState::Finished);
    assert_eq!(status.step, 36);
    let names: Vec<&str> = status.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["decode", "device stage", "train step", "bank maintenance", "validation", "checkpoint"]);
    assert!(status.bound_by.is_some() && status.last_checkpoint.is_some());

    // A class-name list that is not there fails the start naming the field, before the weights load.
    std::fs::remove_file(dir.join("classnames.txt")).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_lgd"))
        .args(["train", "--config", "run.toml", "--run-dir", "run-without-names"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("banks.classnames: class-name list `classnames.txt` is neither a built-in list"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

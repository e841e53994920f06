//! `mean_loss` in metrics.jsonl is the mean of the losses since the previous record: the same
//! seeded run logged every step and every 4 steps trains alike, so each sparse record's
//! `mean_loss` must equal the mean of the dense run's `loss` over its interval, and the run's
//! last step (9, not a multiple of 4) is recorded too, and so is the step a stop request ends at.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::daemon::{cpu_config, spawn_train, train_to_end, wait_for};

/// step → (loss, mean_loss) of every record of a finished run.
fn records(dir: &Path, every_steps: u64) -> BTreeMap<u64, (f64, f64)> {
    let config = cpu_config(dir, 3, "")
        .replace("[logging]\nevery_steps = 1\n", &format!("[logging]\nevery_steps = {every_steps}\n"));
    std::fs::write(dir.join("run.toml"), config).unwrap();
    let output = train_to_end(dir);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    read_records(dir)
}

fn read_records(dir: &Path) -> BTreeMap<u64, (f64, f64)> {
    let metrics = std::fs::read_to_string(dir.join("run/metrics.jsonl")).unwrap();
    metrics
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|r| r.get("loss").is_some())
        .map(|r| (r["step"].as_u64().unwrap(), (r["loss"].as_f64().unwrap(), r["mean_loss"].as_f64().unwrap())))
        .collect()
}

#[test]
fn a_sparse_record_carries_the_mean_loss_of_its_interval() {
    let dir = support::scratch("interval-mean-loss");
    support::write_image_folder(&dir.join("data"), &["a", "b", "c"], 4); // 12 images: 3 steps per epoch
    let dense = records(&dir, 1);
    assert_eq!(dense.len(), 9, "{dense:?}");
    for (step, (loss, mean)) in &dense {
        assert_eq!(loss, mean, "logged every step, the mean is the step's own loss (step {step})");
    }
    std::fs::remove_dir_all(dir.join("run")).unwrap();
    let sparse = records(&dir, 4);
    assert_eq!(sparse.keys().copied().collect::<Vec<_>>(), [1, 4, 8, 9], "step 1, every 4th and the last");
    let mut from = 1;
    for (&step, &(loss, mean)) in &sparse {
        assert_eq!(loss, dense[&step].0, "the two runs train alike (step {step})");
        let expected = (from..=step).map(|s| dense[&s].0).sum::<f64>() / (step - from + 1) as f64;
        assert!(
            (mean - expected).abs() <= 1e-6 * expected.abs(),
            "step {step}: mean_loss {mean}, the dense run's mean over {from}..={step} {expected}"
        );
        from = step + 1;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_stop_between_two_records_records_the_step_it_stops_at() {
    let dir = support::scratch("interval-mean-loss-stop");
    support::write_image_folder(&dir.join("data"), &["a", "b", "c"], 4);
    let dense = records(&dir, 1);
    std::fs::remove_dir_all(dir.join("run")).unwrap();
    // Every step waits for the checkpoint writer (one request in flight, each write held 400 ms),
    // so the SIGTERM sent at the step-2 checkpoint lands well before the run's last step.
    let slow_steps = "[pipeline]\ncheckpoint_requests = 1\n[fault_injection]\ncheckpoint_write_delay_ms = 400\n";
    let config = cpu_config(&dir, 3, slow_steps)
        .replace("[checkpoint]\n", "[checkpoint]\nevery_steps = 1\n")
        .replace("[logging]\nevery_steps = 1\n", "[logging]\nevery_steps = 1000\n");
    std::fs::write(dir.join("run.toml"), config).unwrap();
    let (mut child, lines) = spawn_train(&dir);
    wait_for(&lines, "\"message\":\"checkpoint written\",\"step\":2,", Duration::from_secs(120));
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(child.wait().unwrap().success());
    let stopped = read_records(&dir);
    let steps: Vec<u64> = stopped.keys().copied().collect();
    let last = *steps.last().unwrap();
    assert!(
        steps.len() == 2 && steps[0] == 1 && (3..9).contains(&last),
        "step 1, then the step the stop ended at: {steps:?}"
    );
    let saved = std::fs::read_dir(dir.join("run/checkpoints"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .max()
        .unwrap();
    assert_eq!(saved, format!("step-{last:010}.safetensors"), "the stop's checkpoint is at the recorded step");
    let (loss, mean) = stopped[&last];
    assert_eq!(loss, dense[&last].0, "the two runs train alike (step {last})");
    let expected = (2..=last).map(|s| dense[&s].0).sum::<f64>() / (last - 1) as f64;
    assert!(
        (mean - expected).abs() <= 1e-6 * expected.abs(),
        "mean_loss {mean} at the stop, the dense run's mean over 2..={last} {expected}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

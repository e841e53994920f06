//! `mean_loss` in metrics.jsonl is the mean of the losses since the previous record: the same
//! seeded run logged every step and every 4 steps trains alike, so each sparse record's
//! `mean_loss` must equal the mean of the dense run's `loss` over its interval, and the run's
//! last step (9, not a multiple of 4) is recorded too.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use support::daemon::{cpu_config, train_to_end};

/// step → (loss, mean_loss) of every record of a finished run.
fn records(dir: &Path, every_steps: u64) -> BTreeMap<u64, (f64, f64)> {
    let config = cpu_config(dir, 3, "").replace("[logging]\nevery_steps = 1\n", &format!("[logging]\nevery_steps = {every_steps}\n"));
    std::fs::write(dir.join("run.toml"), config).unwrap();
    let output = train_to_end(dir);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
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
        assert!((mean - expected).abs() <= 1e-6 * expected.abs(), "step {step}: mean_loss {mean}, the dense run's mean over {from}..={step} {expected}");
        from = step + 1;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

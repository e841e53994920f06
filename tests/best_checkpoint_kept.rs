//! `checkpoint.keep_best`: the checkpoint of the best validation survives `keep_last`, names its
//! step and score in `best.json`, and is not among the step checkpoints `resume = "auto"` picks from.

mod support;

use lgd::checkpoint::{list_checkpoints, TrainingState};
use serde_json::Value;

/// Validation scores (step, student zero-shot top-1) in a run's metrics, in order.
fn validations(metrics: &str) -> Vec<(u64, f64)> {
    metrics
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r.get("validation").is_some())
        .map(|r| (r["step"].as_u64().unwrap(), r["validation"]["student_top1"].as_f64().unwrap()))
        .collect()
}

#[test]
fn the_best_validation_is_kept_beside_the_last_checkpoints() {
    let dir = support::scratch("best-checkpoint");
    support::write_image_folder(&dir.join("data"), &["a", "b", "c"], 4);
    let val = dir.join("data").display().to_string();
    // A three-column bank (the folders' classes from ImageNet namesakes): zero-shot top-1 exists
    // and moves from epoch to epoch, so there is a best to find.
    let guidance = dir.join("guidance.txt");
    std::fs::write(&guidance, "a: tench\nb: goldfish\nc: great white shark\n").unwrap();
    let config = support::daemon::cpu_config(&dir, 6, "[validation]\nevery_epochs = 1\n")
        .replace("batch_size = 4", &format!("batch_size = 4\nval = \"{val}\""))
        .replace(
            "text = \"teacher_classifier\"",
            &format!("text = \"teacher_classifier\"\nguidance = \"{}\"", guidance.display()),
        )
        .replace("keep_last = 50", "keep_last = 1\nkeep_best = true")
        .replace("every_epochs = 0", "every_epochs = 1");
    std::fs::write(dir.join("run.toml"), config).unwrap();
    let trained = support::daemon::train_to_end(&dir);
    assert!(trained.status.success(), "{}", String::from_utf8_lossy(&trained.stderr));

    let run = dir.join("run");
    let scores: Vec<(u64, f64)> = validations(&std::fs::read_to_string(run.join("metrics.jsonl")).unwrap())
        .into_iter()
        .filter(|&(step, _)| step > 0)
        .collect();
    assert_eq!(scores.len(), 6, "one validation per epoch: {scores:?}");
    // The first validation reaching the highest score: later ties do not replace it.
    let best = scores.iter().fold(scores[0], |best, &s| if s.1 > best.1 { s } else { best });
    println!("validations (step, student top-1) {scores:?}; best {best:?}");
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("checkpoints/best.json")).unwrap()).unwrap();
    assert_eq!(
        (record["metric"].as_str(), record["step"].as_u64(), record["value"].as_f64()),
        (Some("student_top1"), Some(best.0), Some(best.1)),
        "{record}"
    );
    let kept = TrainingState::load(&run.join("checkpoints/best.safetensors")).unwrap();
    assert_eq!(kept.step, best.0, "the best file holds the weights of the step it names");
    let newest: Vec<u64> = list_checkpoints(&run).iter().map(|p| TrainingState::load(p).unwrap().step).collect();
    assert_eq!(newest, vec![18], "keep_last = 1 keeps the final step only, and never counts the best file");
    std::fs::remove_dir_all(&dir).unwrap();
}

//! Injected NaN losses: a single one skips its step and is counted; a streak reaching
//! `guards.max_consecutive_nonfinite` stops the run with a checkpoint from before the streak.

use lgd::checkpoint::TrainingState;

use crate::daemon::{checkpoint_files, logged, Scene};

#[test]
fn a_nonfinite_loss_skips_its_step_and_is_counted() {
    let scene = Scene::new("faults-nan-one", 4); // 12 images: 3 steps per epoch
    scene.configure(2, "[fault_injection]\nnonfinite_loss_steps = [3]\n");
    let (status, lines) = scene.run_to_end();
    assert!(status.success(), "{}", lines.join("\n"));
    assert!(logged(&lines, &["non-finite loss: step skipped", "\"step\":3"]), "{}", lines.join("\n"));
    let metrics = std::fs::read_to_string(scene.run_dir().join("metrics.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = metrics.lines().map(|l| serde_json::from_str(l).unwrap()).filter(|r: &serde_json::Value| r.get("loss").is_some()).collect();
    let flagged: Vec<u64> = records.iter().filter(|r| r["nonfinite"] == true).map(|r| r["step"].as_u64().unwrap()).collect();
    assert_eq!(flagged, vec![3]);
    assert_eq!(records.last().unwrap()["skipped_steps"], 1);
    assert!(records.iter().filter(|r| r["nonfinite"] == false).all(|r| r["loss"].as_f64().unwrap().is_finite()), "the weights were not poisoned");
    println!("FAULTS NaN (single): step 3 skipped and counted, later losses finite, run finished");
}

#[test]
fn a_streak_of_nonfinite_losses_stops_with_a_checkpoint_from_before_it() {
    let scene = Scene::new("faults-nan-streak", 4);
    scene.configure(
        3,
        "[checkpoint]\nevery_epochs = 0\nevery_steps = 1\nkeep_last = 10\n[guards]\nmax_consecutive_nonfinite = 3\n\
         [fault_injection]\nnonfinite_loss_steps = [4, 5, 6]\n",
    );
    let (status, lines) = scene.run_to_end();
    assert!(!status.success(), "the run stops with an error");
    assert!(
        logged(&lines, &["3 consecutive non-finite losses (steps 4 to 6", "from before step 4", "step-0000000003"]),
        "{}",
        lines.join("\n")
    );
    let files = checkpoint_files(&scene.run_dir());
    let newest = TrainingState::load(files.last().unwrap()).unwrap();
    assert_eq!(newest.step, 3, "the newest checkpoint is the last good state: {files:?}");
    assert!(newest.model.values().all(|t| t.isfinite().all().int64_value(&[]) == 1), "and its weights are finite");
    println!("FAULTS NaN (streak of 3): stopped non-zero with the step-3 checkpoint as the newest; mid-streak ones removed");
}

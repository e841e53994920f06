//! Injected NaN losses: a single one skips its step and is counted; a streak reaching
//! `guards.max_consecutive_nonfinite` stops the run with a checkpoint from before the streak.
//! The verdicts are read back at log intervals only, so both hold with sparse logging too, and
//! a verdict still unread when a stop request ends the run is read then.

use lgd::checkpoint::TrainingState;

use crate::daemon::{checkpoint_files, logged, logged_steps, Scene, MINUTE};

#[test]
fn a_nonfinite_loss_skips_its_step_and_is_counted() {
    let scene = Scene::new("faults-nan-one", 4); // 12 images: 3 steps per epoch
    scene.configure(2, "[fault_injection]\nnonfinite_loss_steps = [3]\n");
    let (status, lines) = scene.run_to_end();
    assert!(status.success(), "{}", lines.join("\n"));
    assert!(logged(&lines, &["non-finite loss: step skipped", "\"step\":3"]), "{}", lines.join("\n"));
    let metrics = std::fs::read_to_string(scene.run_dir().join("metrics.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = metrics
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &serde_json::Value| r.get("loss").is_some())
        .collect();
    let flagged: Vec<u64> =
        records.iter().filter(|r| r["nonfinite"] == true).map(|r| r["step"].as_u64().unwrap()).collect();
    assert_eq!(flagged, vec![3]);
    assert_eq!(records.last().unwrap()["skipped_steps"], 1);
    assert!(
        records.iter().filter(|r| r["nonfinite"] == false).all(|r| r["loss"].as_f64().unwrap().is_finite()),
        "the weights were not poisoned"
    );
    println!("FAULTS NaN (single): step 3 skipped and counted, later losses finite, run finished");
}

/// A run with a checkpoint every step, stopped by a streak of NaN losses at `bad_steps` (limit 3)
/// whose verdicts are read every `log_every` steps: it must end non-zero, say that `streak` losses
/// from `first` on stopped it, and leave the step-`first - 1` checkpoint, finite, as the newest.
fn stopped_by_a_streak(
    name: &str,
    log_every: u64,
    bad_steps: &str,
    (streak, first, read_at): (u32, u64, u64),
) -> Vec<String> {
    let scene = Scene::new(name, 4); // 3 steps per epoch
    scene.configure(
        4,
        &format!(
            "[checkpoint]\nevery_epochs = 0\nevery_steps = 1\nkeep_last = 20\n[guards]\nmax_consecutive_nonfinite = 3\n\
             [fault_injection]\nnonfinite_loss_steps = {bad_steps}\n"
        ),
    );
    scene.log_every(log_every);
    let (status, lines) = scene.run_to_end();
    assert!(!status.success(), "the run stops with an error");
    let said = format!("{streak} consecutive non-finite losses (steps {first} to {read_at}");
    let good = first - 1;
    assert!(
        logged(&lines, &[&said, &format!("from before step {first}"), &format!("step-{good:010}")]),
        "{}",
        lines.join("\n")
    );
    let files = checkpoint_files(&scene.run_dir());
    let newest = TrainingState::load(files.last().unwrap()).unwrap();
    assert_eq!(newest.step, good, "the newest checkpoint is the last good state: {files:?}");
    assert!(newest.model.values().all(|t| t.isfinite().all().int64_value(&[]) == 1), "and its weights are finite");
    lines
}

#[test]
fn a_streak_of_nonfinite_losses_stops_with_a_checkpoint_from_before_it() {
    stopped_by_a_streak("faults-nan-streak", 1, "[4, 5, 6]", (3, 4, 6));
    println!(
        "FAULTS NaN (streak of 3): stopped non-zero with the step-3 checkpoint as the newest; mid-streak ones removed"
    );
}

#[test]
fn verdicts_read_at_sparse_log_intervals_still_skip_count_and_stop() {
    // Verdicts are read at steps 1, 4 and 8: the streak from step 5 is judged at step 8.
    let lines = stopped_by_a_streak("faults-nan-sparse", 4, "[2, 5, 6, 7, 8, 9, 10, 11, 12]", (4, 5, 8));
    assert!(logged(&lines, &["non-finite loss: step skipped", "\"step\":2", "\"streak\":1"]), "{}", lines.join("\n"));
    println!("FAULTS NaN (logging every 4 steps): step 2 skipped, the streak from step 5 stopped the run at the step-8 read with the step-4 checkpoint");
}

#[test]
fn a_nonfinite_loss_at_the_last_step_is_logged_and_counted() {
    let scene = Scene::new("faults-nan-last", 4); // 3 steps per epoch, 9 in all
    scene.configure(3, "[fault_injection]\nnonfinite_loss_steps = [9]\n");
    scene.log_every(4); // logged at steps 1, 4, 8 and, as the run's last, 9
    let (status, lines) = scene.run_to_end();
    assert!(status.success(), "{}", lines.join("\n"));
    assert!(logged(&lines, &["non-finite loss: step skipped", "\"step\":9"]), "{}", lines.join("\n"));
    assert_eq!(logged_steps(&lines), [1, 4, 8, 9], "the last step is logged whatever the interval");
    let status: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(scene.run_dir().join("status.json")).unwrap()).unwrap();
    assert_eq!(status["skipped_steps"], 1, "{status}");
    println!("FAULTS NaN (at the last step, logging every 4): step 9 logged, reported and counted in status.json");
}

#[test]
fn a_nonfinite_loss_pending_at_a_stop_request_is_still_counted() {
    let scene = Scene::new("faults-nan-stop", 4); // 3 steps per epoch
    scene.configure(1000, "[checkpoint]\nevery_epochs = 0\nevery_steps = 1\nkeep_last = 2\n[fault_injection]\nnonfinite_loss_steps = [3]\n");
    scene.log_every(1000); // no read inside the loop after step 1 until long after the stop
    let mut daemon = scene.start();
    // The step-5 checkpoint: step 3's verdict is queued unread.
    while serde_json::from_str::<serde_json::Value>(&daemon.wait_for("checkpoint written", MINUTE * 2)).unwrap()["step"]
        .as_u64()
        < Some(5)
    {}
    daemon.signal("TERM");
    let status = daemon.wait(MINUTE);
    let lines = daemon.drain();
    assert!(status.success(), "{}", lines.join("\n"));
    assert!(logged(&lines, &["non-finite loss: step skipped", "\"step\":3"]), "{}", lines.join("\n"));
    let steps = logged_steps(&lines);
    assert!(
        steps.len() == 2 && steps[0] == 1 && steps[1] >= 5,
        "no step log after step 1 but the stop's own: the verdict was read by the stop: {steps:?}"
    );
    let status: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(scene.run_dir().join("status.json")).unwrap()).unwrap();
    assert_eq!(status["skipped_steps"], 1, "{status}");
    println!(
        "FAULTS NaN (pending at SIGTERM, logging every 1000): step 3 reported at the stop and counted in status.json"
    );
}

//! A finished run started again (by hand, or by a supervisor restarting the daemon) trains nothing:
//! it exits 0 saying so, writes no step, checkpoint or metric, and its status keeps the figures of
//! the process that finished it. Raising `schedule.epochs` goes on; a start that fails before its
//! first checkpoint still names, in its status, the checkpoint it resumed from.

mod support;

use std::path::Path;

use lgd::checkpoint::list_checkpoints;
use serde_json::Value;

fn status(run: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("status.json")).unwrap()).unwrap()
}

#[test]
fn a_finished_run_started_again_trains_nothing_and_keeps_its_status() {
    let dir = support::scratch("finished-run-started-again");
    support::write_image_folder(&dir.join("data"), &["a", "b"], 8);
    // 16 images, batch 4: 4 steps an epoch; checkpoints at step 3 and at the end.
    let config =
        support::daemon::cpu_config(&dir, 1, "").replace("every_epochs = 0", "every_epochs = 0\nevery_steps = 3");
    std::fs::write(dir.join("run.toml"), &config).unwrap();
    let first = support::daemon::train_to_end(&dir);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let run = dir.join("run");
    let checkpoints = list_checkpoints(&run);
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let finished = status(&run);
    assert_eq!((finished["state"].as_str(), finished["step"].as_u64()), (Some("finished"), Some(4)), "{finished}");

    let again = support::daemon::train_to_end(&dir);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{stderr}");
    let last = checkpoints.last().unwrap().display().to_string();
    assert!(
        stderr.contains(&format!("already finished: {last} is at step 4, the end of epoch 1 (schedule.epochs = 1)")),
        "{stderr}"
    );
    assert!(stderr.contains("lgd train: already finished, nothing to train"), "{stderr}");
    assert!(!stderr.contains("img/s"), "no speed is claimed for a run that trained nothing: {stderr}");
    assert_eq!(list_checkpoints(&run), checkpoints, "no checkpoint written");
    assert_eq!(std::fs::read_to_string(run.join("metrics.jsonl")).unwrap(), metrics, "no metric written");
    let kept = status(&run);
    assert_eq!(kept["state"], "finished", "{kept}");
    for field in ["step", "total_steps", "images_per_second", "last", "stages", "history"] {
        assert_eq!(kept[field], finished[field], "{field} of the run that finished it: {kept}");
    }
    assert_eq!(kept["last_checkpoint"].as_str(), Some(last.as_str()), "{kept}");
    assert!(kept["message"].as_str().unwrap().contains("raise schedule.epochs to train further"), "{kept}");

    // Two epochs, and the first new step fails: the status still names where it would resume.
    let longer = config.replace("\nepochs = 1\n", "\nepochs = 2\n");
    assert_ne!(longer, config);
    std::fs::write(dir.join("run.toml"), format!("{longer}[fault_injection]\nstudent_error_step = 5\n")).unwrap();
    let failed = support::daemon::train_to_end(&dir);
    assert!(!failed.status.success(), "{}", String::from_utf8_lossy(&failed.stderr));
    let after_failure = status(&run);
    assert_eq!(after_failure["state"], "failed", "{after_failure}");
    assert_eq!(
        after_failure["last_checkpoint"].as_str(),
        Some(last.as_str()),
        "the checkpoint resumed from: {after_failure}"
    );

    std::fs::write(dir.join("run.toml"), &longer).unwrap();
    let extended = support::daemon::train_to_end(&dir);
    let stderr = String::from_utf8_lossy(&extended.stderr);
    assert!(extended.status.success(), "{stderr}");
    assert!(stderr.contains("lgd train: finished after 8 steps"), "{stderr}");
    assert_eq!(status(&run)["step"], 8);
}

//! A resume continues the checkpoint's run: a start whose batch size or training data differ is
//! refused with the fields named (in the log and the run's status) and the checkpoint left as it was; `--accept-changes` goes on under
//! the new batch size from the same image of the epoch and ends where the new plan ends.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use lgd::checkpoint::list_checkpoints;
use serde_json::Value;

fn train(dir: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lgd"))
        .args(["train", "--config"])
        .arg(dir.join("run.toml"))
        .arg("--run-dir")
        .arg(dir.join("run"))
        .args(extra)
        .output()
        .unwrap()
}

/// The steps of `metrics.jsonl`'s step records, in order.
fn logged_steps(run: &Path) -> Vec<u64> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r.get("loss").is_some())
        .map(|r| r["step"].as_u64().unwrap())
        .collect()
}

#[test]
fn a_resume_that_would_not_continue_its_run_is_refused_unless_accepted() {
    let dir = support::scratch("resume-under-changes");
    support::write_image_folder(&dir.join("data"), &["a", "b"], 20);
    // 40 images, batch 4: 10 steps; the checkpoint of step 7 stands at image 28 of the epoch.
    let config =
        support::daemon::cpu_config(&dir, 1, "").replace("every_epochs = 0", "every_epochs = 0\nevery_steps = 7");
    std::fs::write(dir.join("run.toml"), &config).unwrap();
    let trained = train(&dir, &[]);
    assert!(trained.status.success(), "{}", String::from_utf8_lossy(&trained.stderr));
    let run = dir.join("run");
    std::fs::remove_file(run.join("checkpoints/step-0000000010.safetensors")).unwrap();
    let kept = list_checkpoints(&run);
    let checkpoint = kept.last().unwrap().display().to_string();
    assert!(checkpoint.ends_with("step-0000000007.safetensors"), "{kept:?}");

    // Another batch size: refused, naming the checkpoint, the field and the way out.
    std::fs::write(dir.join("run.toml"), config.replace("batch_size = 4", "batch_size = 8")).unwrap();
    let refused = train(&dir, &[]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("{checkpoint}: this start differs")), "{stderr}");
    assert!(stderr.contains("(data.batch_size: 4 -> 8)") && stderr.contains("--accept-changes"), "{stderr}");
    let status: Value = serde_json::from_str(&std::fs::read_to_string(run.join("status.json")).unwrap()).unwrap();
    assert_eq!(status["state"], "failed", "{status}");
    assert!(status["message"].as_str().unwrap().contains("(data.batch_size: 4 -> 8)"), "{status}");
    assert_eq!(status["last_checkpoint"].as_str(), Some(checkpoint.as_str()), "where it would resume from");

    // Four images fewer under the same config: the epoch's order is another permutation.
    std::fs::write(dir.join("run.toml"), &config).unwrap();
    let moved = dir.join("moved");
    std::fs::create_dir_all(&moved).unwrap();
    for i in 16..20 {
        std::fs::rename(dir.join(format!("data/b/{i}.ppm")), moved.join(format!("{i}.ppm"))).unwrap();
    }
    let refused = train(&dir, &[]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(stderr.contains("(the training data: 40 images in 2 classes then, 36 in 2 now)"), "{stderr}");
    for i in 16..20 {
        std::fs::rename(moved.join(format!("{i}.ppm")), dir.join(format!("data/b/{i}.ppm"))).unwrap();
    }
    assert_eq!(list_checkpoints(&run), kept, "a refused start writes nothing");
    assert_eq!(logged_steps(&run), (1..=10).collect::<Vec<_>>(), "nor logs a step");

    // Accepted: batch 8 goes on at batch 3 of 5 (images 24..32 hold image 28), so the epoch ends
    // after two more steps, at step 9, which is logged as the run's planned end.
    std::fs::write(dir.join("run.toml"), config.replace("batch_size = 4", "batch_size = 8")).unwrap();
    let accepted = train(&dir, &["--accept-changes"]);
    let stderr = String::from_utf8_lossy(&accepted.stderr);
    assert!(accepted.status.success(), "{stderr}");
    assert!(stderr.contains("goes on at batch 3 of 5 of epoch 0"), "{stderr}");
    assert!(stderr.contains("finished after 9 steps"), "{stderr}");
    let steps = logged_steps(&run);
    assert_eq!(steps[10..], [8, 9], "after the first life's ten steps, the resumed steps to the planned end");
    assert!(list_checkpoints(&run).last().unwrap().ends_with("step-0000000009.safetensors"));
    std::fs::remove_dir_all(&dir).unwrap();
}

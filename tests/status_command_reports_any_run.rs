//! `lgd status RUN_DIR` reads the run folder's status.json: a run trained to its end reads as
//! finished (also with `--json`), a status claiming `training` whose process is gone reads as
//! "not running", and a folder without a status file is an error naming the file.

mod support;

use std::path::Path;
use std::process::{Command, Output};

fn lgd_status(args: &[&str], run_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lgd")).arg("status").args(args).arg(run_dir).output().unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "lgd status failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn finished_run_dead_process_and_missing_file() {
    let dir = support::scratch("status-command");
    support::write_image_folder(&dir.join("data"), &["a", "b", "c"], 4);
    std::fs::write(dir.join("run.toml"), support::daemon::cpu_config(&dir, 1, "")).unwrap();
    let run = dir.join("run");
    let trained = support::daemon::train_to_end(&dir);
    assert!(trained.status.success(), "{}", String::from_utf8_lossy(&trained.stderr));

    let text = stdout(&lgd_status(&[], &run));
    println!("{text}");
    for expected in [
        "run             run\n",
        "state           finished (pid",
        "has exited)",
        "step 3 of 3 (100.0 %)",
        "loss            ",
        "decode",
        "train step",
        "host batches",
        "bad samples     0",
        "skipped steps   0",
        "step-0000000003",
    ] {
        assert!(text.contains(expected), "`{expected}` missing:\n{text}");
    }
    assert!(!text.contains("not running"), "a finished run is not a crashed one");
    let flagged = Command::new(env!("CARGO_BIN_EXE_lgd")).args(["status", "--run-dir"]).arg(&run).output().unwrap();
    assert!(
        stdout(&flagged).contains("step 3 of 3 (100.0 %)"),
        "`--run-dir DIR`, as lgd train takes it, reads the same"
    );
    let json: serde_json::Value = serde_json::from_str(&stdout(&lgd_status(&["--json"], &run))).unwrap();
    assert_eq!(json["state"], "finished");
    assert_eq!(json["step"], 3);
    assert_eq!(json["history"].as_array().unwrap().len(), 3, "every step was logged");

    // A crash leaves `training` behind; the pid of a reaped child names no process.
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let mut crashed = json.clone();
    crashed["state"] = "training".into();
    crashed["pid"] = dead.into();
    std::fs::write(run.join("status.json"), serde_json::to_vec_pretty(&crashed).unwrap()).unwrap();
    let text = stdout(&lgd_status(&[], &run));
    assert!(text.contains("not running (the process is gone: crashed or killed"), "{text}");
    assert!(text.contains(&format!("pid {dead}")), "{text}");
    let (mut this, me) = (crashed.clone(), std::process::id());
    this["pid"] = me.into();
    std::fs::write(run.join("status.json"), serde_json::to_vec_pretty(&this).unwrap()).unwrap();
    let text = stdout(&lgd_status(&[], &run));
    assert!(text.contains(&format!("training (pid {me}, running)")), "a live pid reads as running:\n{text}");

    let missing = lgd_status(&[], &dir.join("nowhere"));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success());
    assert!(stderr.contains(&dir.join("nowhere/status.json").display().to_string()), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

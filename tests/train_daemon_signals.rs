//! The real `lgd train` process under real signals: SIGUSR1 checkpoints and goes on, SIGHUP applies
//! a reloadable change and refuses a non-reloadable one (old config kept), SIGTERM checkpoints and
//! exits 0 promptly, and a restart resumes from that checkpoint; bad input fails fast with one line.

mod support;

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use support::daemon::{spawn_train as start, wait_for};

/// The shared CPU config, 1000 epochs: runs until a signal stops it.
fn config(dir: &Path, extra: &str) -> String {
    support::daemon::cpu_config(dir, 1000, extra)
}

fn signal(child: &Child, name: &str) {
    assert!(Command::new("kill").args([&format!("-{name}"), &child.id().to_string()]).status().unwrap().success());
}

fn checkpoints(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("run/checkpoints")).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn signals_checkpoint_reload_stop_and_resume() {
    let dir = support::scratch("daemon");
    support::write_image_folder(&dir.join("data"), &["a", "b", "c"], 4);
    std::fs::write(dir.join("run.toml"), config(&dir, "")).unwrap();
    let (mut child, lines) = start(&dir);
    let minute = Duration::from_secs(60);
    wait_for(&lines, "\"step\":2", minute);

    signal(&child, "USR1");
    wait_for(&lines, "checkpoint written", minute);
    assert_eq!(checkpoints(&dir), 1);

    std::fs::write(dir.join("run.toml"), config(&dir, "[loss]\nteacher_temperature = 0.02\n")).unwrap();
    signal(&child, "HUP");
    let line = wait_for(&lines, "config reloaded", minute);
    assert!(line.contains("loss.teacher_temperature: 0.01 -> 0.02"), "{line}");

    std::fs::write(dir.join("run.toml"), config(&dir, "").replace("batch_size = 4", "batch_size = 8")).unwrap();
    signal(&child, "HUP");
    let line = wait_for(&lines, "reload refused", minute);
    assert!(line.contains("data.batch_size"), "{line}");
    std::fs::write(dir.join("run.toml"), "[data\n").unwrap();
    signal(&child, "HUP");
    wait_for(&lines, "reload failed, old config kept", minute);
    wait_for(&lines, "\"message\":\"step\"", minute);

    let stop = Instant::now();
    signal(&child, "TERM");
    let status = child.wait().unwrap();
    println!("SIGTERM to exit: {:.2} s", stop.elapsed().as_secs_f64());
    assert!(status.success(), "SIGTERM exits 0: {status:?}");
    assert!(stop.elapsed() < Duration::from_secs(30));
    let saved = checkpoints(&dir);
    assert_eq!(saved, 2, "a final checkpoint on SIGTERM");

    std::fs::write(dir.join("run.toml"), config(&dir, "")).unwrap();
    let (mut child, lines) = start(&dir);
    let line = wait_for(&lines, "resuming", minute);
    println!("restart: {line}");
    wait_for(&lines, "\"message\":\"step\"", minute);
    signal(&child, "TERM");
    assert!(child.wait().unwrap().success());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_fails_fast_with_one_line_naming_the_culprit() {
    let dir = support::scratch("daemon-bad");
    support::write_image_folder(&dir.join("data"), &["a"], 4);
    let cases = [
        (
            "missing teacher",
            config(&dir, "").replace(&support::lite0_weights().display().to_string(), "/nonexistent/lite0.pth"),
            "teacher.weights: /nonexistent/lite0.pth does not exist",
        ),
        (
            "missing data",
            config(&dir, "").replace(&dir.join("data").display().to_string(), "/nonexistent/data"),
            "data.train",
        ),
        ("tiny data", config(&dir, "").replace("batch_size = 4", "batch_size = 64"), "fewer than one batch of 64"),
        (
            "missing val split",
            config(&dir, "").replace("batch_size = 4", "val = \"/nonexistent/val\"\nbatch_size = 4"),
            "data.val: /nonexistent/val does not exist here",
        ),
        (
            "bad value",
            config(&dir, "").replace("keep_last = 50", "keep_last = 0"),
            "checkpoint.keep_last: must be >= 1",
        ),
    ];
    for (what, text, expected) in cases {
        std::fs::write(dir.join("run.toml"), text).unwrap();
        let output = support::daemon::train_to_end(&dir);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{what}: must fail");
        assert!(stderr.contains(expected), "{what}: {stderr}");
    }
    std::fs::write(dir.join("blocker"), b"a file, not a folder").unwrap();
    std::fs::write(dir.join("run.toml"), config(&dir, "")).unwrap();
    let train_in = |run_dir: &Path| {
        let output = Command::new(env!("CARGO_BIN_EXE_lgd"))
            .args(["train", "--config"])
            .arg(dir.join("run.toml"))
            .arg("--run-dir")
            .arg(run_dir)
            .output();
        String::from_utf8_lossy(&output.unwrap().stderr).into_owned()
    };
    assert!(train_in(&dir.join("blocker/run")).contains("run folder"), "unwritable run folder is named");
    let stderr = train_in(&dir.join("blocker"));
    assert!(
        stderr.contains(&format!("run folder {} is a file, not a folder", dir.join("blocker").display())),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

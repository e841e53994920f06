//! `run.requeue` through the real binary, as a Slurm job lives it: the time-limit warning
//! (SIGUSR1, or the `run.requeue_signal` chosen) checkpoints, stops with status 0 and has
//! `scontrol requeue $SLURM_JOB_ID` called (a stand-in on PATH records it); with no `scontrol`
//! on PATH the run still saves itself and fails naming `scontrol` and the checkpoint; and the
//! job started again resumes to the same weights, momentum and visual bank, bit for bit, as a
//! run never stopped (CPU).

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use lgd::checkpoint::{checkpoint_path, TrainingState};
use support::daemon::{cpu_config, lines_of, wait_for};
use support::states::assert_identical;

/// 3 classes x 4 images, batch 4: 3 steps an epoch, 12 in the run.
const TOTAL_STEPS: u64 = 12;
const JOB: &str = "4242";

fn config(dir: &Path, run_lines: &str) -> String {
    cpu_config(dir, 4, "").replace("device = \"cpu\"", &format!("device = \"cpu\"\n{run_lines}"))
}

/// `lgd train` as a task of Slurm job 4242 whose PATH is `path` only.
fn job_step(dir: &Path, path: &Path) -> (Child, Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lgd"))
        .args(["--log-format", "json", "train", "--config"])
        .arg(dir.join("run.toml"))
        .arg("--run-dir")
        .arg(dir.join("run"))
        .env("PATH", path)
        .env("SLURM_JOB_ID", JOB)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = lines_of(child.stderr.take().unwrap());
    (child, lines)
}

fn signal(child: &Child, name: &str) {
    assert!(Command::new("kill").args([&format!("-{name}"), &child.id().to_string()]).status().unwrap().success());
}

/// The step the run stopped at, from its last line.
fn steps_of(line: &str) -> u64 {
    serde_json::from_str::<serde_json::Value>(line).unwrap()["steps"].as_u64().unwrap_or_else(|| panic!("{line}"))
}

/// Sends `name` once step 2 of this start is logged, waits for the exit, returns the status and
/// the lines logged after step 2.
fn warn_of_the_time_limit(
    (mut child, lines): (Child, Receiver<String>),
    name: &str,
    from: u64,
) -> (std::process::ExitStatus, Vec<String>) {
    let minute = Duration::from_secs(60);
    wait_for(&lines, &format!("\"step\":{}", from + 2), minute);
    signal(&child, name);
    let status = child.wait().unwrap();
    (status, lines.iter().collect())
}

#[test]
fn a_requeued_job_resumes_bit_exactly() {
    let dir = support::scratch("slurm-requeue");
    support::write_image_folder(&dir.join("data"), &["a", "b", "c"], 4);
    // The run never stopped, in a folder of its own.
    let straight = dir.join("straight");
    std::fs::create_dir_all(&straight).unwrap();
    std::os::unix::fs::symlink(dir.join("data"), straight.join("data")).unwrap();
    std::fs::write(straight.join("run.toml"), config(&straight, "")).unwrap();
    let output = support::daemon::train_to_end(&straight);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    // A stand-in scontrol that records its arguments.
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let recorded = dir.join("scontrol.args");
    let stand_in = bin.join("scontrol");
    std::fs::write(&stand_in, format!("#!/bin/sh\necho \"$@\" >> '{}'\n", recorded.display())).unwrap();
    std::fs::set_permissions(&stand_in, std::fs::Permissions::from_mode(0o755)).unwrap();

    // 1. SIGUSR1, the default warning: saved, requeued, status 0.
    std::fs::write(dir.join("run.toml"), config(&dir, "requeue = true")).unwrap();
    let (status, lines) = warn_of_the_time_limit(job_step(&dir, &bin), "USR1", 0);
    let last = lines.iter().rev().find(|l| l.contains("lgd train: ")).cloned().unwrap_or_default();
    assert!(status.success(), "a requeue exits 0: {status}\n{}", lines.join("\n"));
    assert!(last.contains("stopped for a requeue") && last.contains("Slurm job 4242 requeued"), "{last}");
    let first_stop = steps_of(&last);
    assert!(first_stop < TOTAL_STEPS, "stopped before the end: {last}");
    assert!(checkpoint_path(&dir.join("run"), first_stop).exists(), "the stop was saved first");
    assert_eq!(std::fs::read_to_string(&recorded).unwrap(), format!("requeue {JOB}\n"));

    // 2. The job again, warned with SIGUSR2 this time, and no scontrol on PATH: saved, and an
    // error that names scontrol and the checkpoint.
    std::fs::write(dir.join("run.toml"), config(&dir, "requeue = true\nrequeue_signal = \"USR2\"")).unwrap();
    let empty = dir.join("no-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let (status, lines) = warn_of_the_time_limit(job_step(&dir, &empty), "USR2", first_stop);
    let log = lines.join("\n");
    assert_eq!(status.code(), Some(1), "a failed requeue is a failure: {log}");
    let error = lines.iter().rev().find(|l| l.contains("scontrol")).unwrap_or_else(|| panic!("{log}"));
    assert!(
        error.contains("`scontrol` was not found on PATH") && error.contains("job 4242 was not requeued"),
        "{error}"
    );
    let saved = std::fs::read_dir(dir.join("run/checkpoints")).unwrap().count();
    let second_stop = (first_stop + 1..TOTAL_STEPS)
        .rev()
        .find(|step| checkpoint_path(&dir.join("run"), *step).exists())
        .unwrap_or_else(|| panic!("no checkpoint after step {first_stop} ({saved} saved): {log}"));
    assert!(error.contains(&checkpoint_path(&dir.join("run"), second_stop).display().to_string()), "{error}");

    // 3. Requeued by hand: the job runs to its end, equal to the run never stopped.
    std::fs::write(dir.join("run.toml"), config(&dir, "requeue = true")).unwrap();
    let (mut child, lines) = job_step(&dir, &bin);
    let status = child.wait().unwrap();
    let log: Vec<String> = lines.iter().collect();
    assert!(status.success(), "{}", log.join("\n"));
    assert!(log.iter().any(|l| l.contains("\"message\":\"resuming\"")), "{}", log.join("\n"));
    assert_eq!(std::fs::read_to_string(&recorded).unwrap().lines().count(), 1, "a run that ends is not requeued");
    let end = |run: PathBuf| TrainingState::load(&checkpoint_path(&run, TOTAL_STEPS)).unwrap();
    assert_identical(&end(straight.join("run")), &end(dir.join("run")));
    println!(
        "requeued at steps {first_stop} and {second_stop}; step {TOTAL_STEPS} bit-identical to the run never stopped"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

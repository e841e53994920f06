//! Signals during `lgd train`'s start-up, sent for real at several moments of it — before the
//! teacher loads, while it loads, while the text bank is computed, directly and through
//! `lgd launch`. Each moment is held open by `fault_injection.hold_startup` (start-up waits there
//! for a signal), so no signal races the phase it is meant for. SIGTERM stops start-up at its next
//! safe point, exit 0, status `stopped` with the phase; SIGUSR1 has its checkpoint written at the
//! first step boundary; SIGHUP has the config re-read before the first step.

mod support;

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::daemon::{spawn_lgd, spawn_train, wait_for};

const MINUTE: Duration = Duration::from_secs(60);

fn config(dir: &Path, hold: &str, extra: &str) -> String {
    support::daemon::cpu_config(dir, 1000, &format!("{extra}[fault_injection]\nhold_startup = \"{hold}\"\n"))
}

fn signal(pid: u32, name: &str) {
    assert!(Command::new("kill").args([&format!("-{name}"), &pid.to_string()]).status().unwrap().success());
}

fn status(run: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("status.json")).unwrap()).unwrap()
}

/// Waits for the child's exit, at most a minute.
fn exit_within_a_minute(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + MINUTE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "still running a minute after the signal");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts a run held in `hold`, sends SIGTERM there, and checks the stop it makes.
fn sigterm_while_held(dir: &Path, hold: &str, extra: &str) {
    std::fs::write(dir.join("run.toml"), config(dir, hold, extra)).unwrap();
    let (mut child, lines) = spawn_train(dir);
    wait_for(&lines, "start-up held until a signal arrives", MINUTE);
    assert_eq!(status(&dir.join("run"))["startup_phase"], hold, "the status shows the phase in progress");
    signal(child.id(), "TERM");
    let exit = exit_within_a_minute(&mut child);
    assert!(exit.success(), "{hold}: SIGTERM during start-up exits 0: {exit:?}");
    wait_for(&lines, "stopped on request during start-up", MINUTE);
    let stopped = status(&dir.join("run"));
    assert_eq!(
        (stopped["state"].as_str(), stopped["startup_phase"].as_str()),
        (Some("stopped"), Some(hold)),
        "{stopped}"
    );
    assert!(!dir.join("run/checkpoints").exists(), "{hold}: nothing trained, nothing saved");
}

#[test]
fn sigterm_before_and_while_the_teacher_loads_stops_start_up_with_exit_0() {
    let dir = support::scratch("startup-sigterm");
    support::write_image_folder(&dir.join("data"), &["a", "b", "c"], 4);
    sigterm_while_held(&dir, "checking_checkpoint", "");
    assert!(
        !dir.join("run/config.toml").exists(),
        "stopped before the start was accepted: nothing written but the status"
    );
    sigterm_while_held(&dir, "loading_teacher", "");
    let report = Command::new(env!("CARGO_BIN_EXE_lgd")).arg("status").arg(dir.join("run")).output().unwrap();
    let report = String::from_utf8_lossy(&report.stdout);
    assert!(report.contains("stopped (pid") && report.contains("loading the teacher"), "{report}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sigterm_while_the_text_bank_is_computed_stops_start_up_with_exit_0() {
    let dir = support::scratch("startup-sigterm-bank");
    support::run_oracle("clip_towers_oracle.py", &[&dir]); // a tiny random CLIP: dir/rn.pt
    support::write_image_folder(&dir.join("data"), &["a", "b", "c"], 4);
    std::fs::write(dir.join("names.txt"), "goldfish\ngreat white shark\nespresso\n").unwrap();
    let clip = format!(
        "[teacher]\nkind = \"clip\"\nweights = \"{}\"\n[banks]\nclassnames = \"{}\"\n",
        dir.join("rn.pt").display(),
        dir.join("names.txt").display()
    );
    let text = config(&dir, "computing_text_bank", "");
    let teacher = text.find("[teacher]").unwrap();
    let augmentation = text.find("[augmentation]").unwrap();
    std::fs::write(dir.join("run.toml"), format!("{}{clip}{}", &text[..teacher], &text[augmentation..])).unwrap();
    let (mut child, lines) = spawn_train(&dir);
    wait_for(&lines, "start-up held until a signal arrives", MINUTE);
    signal(child.id(), "TERM");
    assert!(exit_within_a_minute(&mut child).success());
    let stopped = status(&dir.join("run"));
    assert_eq!(
        (stopped["state"].as_str(), stopped["startup_phase"].as_str()),
        (Some("stopped"), Some("computing_text_bank")),
        "{stopped}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sigusr1_during_start_up_checkpoints_at_the_first_step_boundary() {
    let dir = support::scratch("startup-sigusr1");
    support::write_image_folder(&dir.join("data"), &["a", "b", "c"], 4);
    std::fs::write(dir.join("run.toml"), config(&dir, "loading_teacher", "")).unwrap();
    let (mut child, lines) = spawn_train(&dir);
    wait_for(&lines, "start-up held until a signal arrives", MINUTE);
    signal(child.id(), "USR1");
    wait_for(&lines, "checkpoint asked for before the first step", MINUTE);
    let written = wait_for(&lines, "checkpoint written", MINUTE);
    assert!(written.contains("\"step\":1"), "at the first step boundary: {written}");
    signal(child.id(), "TERM");
    assert!(exit_within_a_minute(&mut child).success());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sighup_during_start_up_rereads_the_config_before_the_first_step() {
    let dir = support::scratch("startup-sighup");
    support::write_image_folder(&dir.join("data"), &["a", "b", "c"], 4);
    std::fs::write(dir.join("run.toml"), config(&dir, "building_trainer", "")).unwrap();
    let (mut child, lines) = spawn_train(&dir);
    wait_for(&lines, "start-up held until a signal arrives", MINUTE);
    std::fs::write(dir.join("run.toml"), config(&dir, "building_trainer", "[loss]\nteacher_temperature = 0.02\n"))
        .unwrap();
    signal(child.id(), "HUP");
    let (reloaded, before) = support::daemon::wait_for_after(&lines, "config reloaded", MINUTE);
    assert!(reloaded.contains("loss.teacher_temperature: 0.01 -> 0.02"), "{reloaded}");
    assert!(
        !before.iter().any(|line| line.contains("\"message\":\"step\"")),
        "a step before the reload:\n{}",
        before.join("\n")
    );
    wait_for(&lines, "\"message\":\"step\"", MINUTE);
    signal(child.id(), "TERM");
    assert!(exit_within_a_minute(&mut child).success());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sigterm_to_lgd_launch_during_start_up_stops_every_rank_with_exit_0() {
    let dir = support::scratch("startup-launch");
    support::write_image_folder(&dir.join("data"), &["a", "b", "c"], 4);
    std::fs::write(dir.join("run.toml"), config(&dir, "loading_teacher", "")).unwrap();
    let (mut launcher, lines) = spawn_lgd(&["launch", "--nproc-per-node", "2", "--master-port", "0", "--"], &dir);
    wait_for(&lines, "start-up held until a signal arrives", MINUTE);
    wait_for(&lines, "start-up held until a signal arrives", MINUTE);
    signal(launcher.id(), "TERM");
    let exit = exit_within_a_minute(&mut launcher);
    assert!(exit.success(), "every rank stopped cleanly, so the launch exits 0: {exit:?}");
    for run in [dir.join("run"), dir.join("run/rank-1")] {
        let stopped = status(&run);
        assert_eq!(
            (stopped["state"].as_str(), stopped["startup_phase"].as_str()),
            (Some("stopped"), Some("loading_teacher")),
            "{}: {stopped}",
            run.display()
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

//! SIGKILL at random moments — half of them while a checkpoint is being written — then
//! `resume = "auto"`: every run must find a valid checkpoint, resume from it and finish. Broken
//! checkpoints (wrong checksum, truncated) are named in the log and the previous one is used.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::daemon::{checkpoint_files, logged, Scene, MINUTE};

const EPOCHS: u32 = 3; // 36 images, batch 4: 9 steps per epoch, 27 in all
const STEPS: u64 = 27;

/// Runs requested by `LGD_FAULT_KILLS` (CI default 12; the full figure is 50).
fn kill_runs() -> usize {
    std::env::var("LGD_FAULT_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(12)
}

fn partial_checkpoints(scene: &Scene) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(scene.checkpoints()) else { return Vec::new() };
    entries.flatten().map(|e| e.path()).filter(|p| p.file_name().unwrap().to_string_lossy().contains(".tmp-")).collect()
}

fn wait_until(deadline: Duration, mut done: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

#[test]
fn killed_runs_always_resume_and_finish() {
    let scene = Scene::new("faults-kills", 12);
    scene.configure(
        EPOCHS,
        "[checkpoint]\nevery_epochs = 0\nevery_steps = 3\nkeep_last = 3\n[fault_injection]\ncheckpoint_write_delay_ms = 120\n",
    );
    let runs = kill_runs();
    let (mut inside_write, mut resumed_and_finished) = (0, 0);
    let mut random = 0x2545_f491_4f6c_dd1d_u64;
    for run in 0..runs {
        let _ = std::fs::remove_dir_all(scene.run_dir());
        let mut daemon = scene.start();
        assert!(
            wait_until(MINUTE, || !checkpoint_files(&scene.run_dir()).is_empty()),
            "run {run}: no first checkpoint"
        );
        let in_write = run % 2 == 0;
        if in_write {
            assert!(
                wait_until(MINUTE, || !partial_checkpoints(&scene).is_empty()),
                "run {run}: no checkpoint write seen"
            );
        } else {
            random ^= random << 13;
            random ^= random >> 7;
            random ^= random << 17;
            std::thread::sleep(Duration::from_millis(random % 1500));
        }
        daemon.child.kill().unwrap();
        daemon.child.wait().unwrap();
        if in_write && !partial_checkpoints(&scene).is_empty() {
            inside_write += 1;
        }
        let before = checkpoint_files(&scene.run_dir());
        let (status, lines) = scene.run_to_end();
        let finished = lgd::daemon::status::RunStatus::read(&scene.run_dir()).expect("status.json");
        assert!(status.success(), "run {run}: the resumed run failed:\n{}", lines.join("\n"));
        assert!(
            logged(&lines, &["resuming"]),
            "run {run}: {} checkpoints on disk but no resume:\n{}",
            before.len(),
            lines.join("\n")
        );
        assert_eq!(finished.step, STEPS, "run {run}: finished at the planned step");
        assert!(partial_checkpoints(&scene).is_empty(), "run {run}: partial files cleaned up");
        resumed_and_finished += 1;
    }
    println!("FAULTS kills: {resumed_and_finished}/{runs} killed runs resumed from a valid checkpoint and finished; {inside_write} of them killed inside a checkpoint write");
    assert_eq!(resumed_and_finished, runs);
    assert!(inside_write >= runs / 2, "half the kills land inside a write: {inside_write}/{runs}");
}

#[test]
fn a_corrupted_or_truncated_checkpoint_is_named_and_the_previous_one_used() {
    let scene = Scene::new("faults-corrupt", 4);
    // 12 images: 3 steps per epoch, checkpoints at 1, 2, 3 (epochs), run to step 3 then 6.
    scene.configure(1, "[checkpoint]\nevery_epochs = 0\nevery_steps = 1\nkeep_last = 5\n");
    let (status, lines) = scene.run_to_end();
    assert!(status.success(), "{}", lines.join("\n"));
    let files = checkpoint_files(&scene.run_dir());
    assert_eq!(files.len(), 3);
    // Flip a byte near the end of the newest (inside the tensor data), truncate the one before.
    let mut bytes = std::fs::read(&files[2]).unwrap();
    let at = bytes.len() - 10;
    bytes[at] ^= 0x5a;
    std::fs::write(&files[2], bytes).unwrap();
    let length = std::fs::metadata(&files[1]).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&files[1]).unwrap().set_len(length / 2).unwrap();

    scene.configure(2, "[checkpoint]\nevery_epochs = 0\nevery_steps = 1\nkeep_last = 5\n");
    let (status, lines) = scene.run_to_end();
    assert!(status.success(), "{}", lines.join("\n"));
    let name = |p: &PathBuf| p.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        logged(&lines, &["skipping a broken checkpoint", &name(&files[2]), "checksum mismatch"]),
        "{}",
        lines.join("\n")
    );
    assert!(logged(&lines, &["skipping a broken checkpoint", &name(&files[1])]), "{}", lines.join("\n"));
    let resumed = lines.iter().find(|l| l.contains("\"message\":\"resuming\"")).expect("resumed");
    assert!(resumed.contains(&name(&files[0])), "the oldest valid one is used: {resumed}");
    println!(
        "FAULTS corrupt checkpoints: checksum-mismatch and truncated files detected and named; resumed from {}",
        name(&files[0])
    );
}

//! A checkpoint write that fails (a full disk) keeps the previous checkpoint intact, is logged,
//! and the run goes on or stops as `guards.on_checkpoint_failure` says. Two ways to fill the disk:
//! an injected write failure (always), and a real size-limited tmpfs mounted over the checkpoint
//! folder (when the tests run as root and may mount; otherwise the test says it was not run).

use std::process::Command;

use lgd::checkpoint::TrainingState;

use crate::daemon::{checkpoint_files, logged, Scene};

const CHECKPOINTS: &str = "[checkpoint]\nevery_epochs = 0\nevery_steps = 2\nkeep_last = 2\n";

#[test]
fn an_injected_write_failure_keeps_the_previous_checkpoint_and_training_goes_on() {
    let scene = Scene::new("faults-disk-injected", 4); // 12 images: 3 steps per epoch
    scene.configure(2, &format!("{CHECKPOINTS}[fault_injection]\nfail_checkpoint_steps = [4]\n"));
    let (status, lines) = scene.run_to_end();
    assert!(status.success(), "continue is the default:\n{}", lines.join("\n"));
    assert!(
        logged(
            &lines,
            &["checkpoint at step 4 failed, the previous one is intact", "step-0000000002", "no space left on device"]
        ),
        "{}",
        lines.join("\n")
    );
    let steps: Vec<u64> =
        checkpoint_files(&scene.run_dir()).iter().map(|p| TrainingState::load(p).unwrap().step).collect();
    assert_eq!(steps, vec![2, 6], "4 failed; 2 stayed until 6 replaced it under keep_last = 2");

    let _ = std::fs::remove_dir_all(scene.run_dir());
    scene.configure(
        2,
        &format!(
            "{CHECKPOINTS}[guards]\non_checkpoint_failure = \"stop\"\n[fault_injection]\nfail_checkpoint_steps = [4]\n"
        ),
    );
    let (status, lines) = scene.run_to_end();
    assert!(!status.success(), "stop makes the run fail");
    assert!(logged(&lines, &["checkpoint at step 4 failed"]), "{}", lines.join("\n"));
    let files = checkpoint_files(&scene.run_dir());
    assert_eq!(files.len(), 1);
    assert_eq!(TrainingState::load(&files[0]).unwrap().step, 2, "the previous checkpoint is intact and valid");
    println!(
        "FAULTS full disk (injected): previous checkpoint intact; continue → run finished, stop → exit {:?}",
        status.code()
    );
}

#[test]
fn a_real_full_tmpfs_keeps_the_previous_checkpoint() {
    let scene = Scene::new("faults-disk-tmpfs", 4);
    scene.configure(2, CHECKPOINTS);
    // Measure one checkpoint, then give the folder room for one and a half.
    let (status, _) = scene.run_to_end();
    assert!(status.success());
    let size = std::fs::metadata(&checkpoint_files(&scene.run_dir())[0]).unwrap().len();
    let _ = std::fs::remove_dir_all(scene.run_dir());
    std::fs::create_dir_all(scene.checkpoints()).unwrap();
    let mount = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={}k", size * 3 / 2 / 1024)])
        .arg("tmpfs")
        .arg(scene.checkpoints())
        .output();
    match mount {
        Ok(output) if output.status.success() => {}
        Ok(output) => {
            println!(
                "FAULTS full disk (tmpfs): NOT RUN — mount refused: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
            return;
        }
        Err(e) => {
            println!("FAULTS full disk (tmpfs): NOT RUN — no mount command: {e}");
            return;
        }
    }
    let (status, lines) = scene.run_to_end();
    let files = checkpoint_files(&scene.run_dir());
    let loaded: Vec<u64> = files.iter().map(|p| TrainingState::load(p).map(|s| s.step).unwrap_or(u64::MAX)).collect();
    let _ = Command::new("umount").arg(scene.checkpoints()).status();
    assert!(status.success(), "{}", lines.join("\n"));
    assert!(logged(&lines, &["failed, the previous one is intact", "step-0000000002"]), "{}", lines.join("\n"));
    assert!(logged(&lines, &["No space left on device"]), "a real ENOSPC: {}", lines.join("\n"));
    assert_eq!(loaded, vec![2], "only the first checkpoint fits, and it is valid");
    println!(
        "FAULTS full disk (tmpfs of {} KB): ENOSPC logged, step-2 checkpoint intact and valid, run finished",
        size * 3 / 2 / 1024
    );
}

//! Signals under load: a storm of SIGUSR1 produces valid checkpoints without stopping training;
//! SIGTERM during a long validation exits promptly with a checkpoint.

use std::process::Command;
use std::time::{Duration, Instant};

use lgd::checkpoint::TrainingState;

use crate::daemon::{checkpoint_files, Scene, MINUTE};

#[test]
fn a_storm_of_checkpoint_requests_corrupts_nothing() {
    let scene = Scene::new("faults-usr1", 4);
    scene.configure(1000, "[checkpoint]\nevery_epochs = 0\nkeep_last = 1000\n");
    let mut daemon = scene.start();
    daemon.next_step(MINUTE);
    let pid = daemon.child.id().to_string();
    for _ in 0..100 {
        assert!(Command::new("kill").args(["-USR1", &pid]).status().unwrap().success());
    }
    let first = daemon.next_step(MINUTE);
    let later = (0..5).map(|_| daemon.next_step(MINUTE)).last().unwrap();
    assert!(later > first, "training went on");
    daemon.signal("TERM");
    assert!(daemon.wait(MINUTE).success());
    let files = checkpoint_files(&scene.run_dir());
    for file in &files {
        TrainingState::load(file).unwrap_or_else(|e| panic!("{e}"));
    }
    assert!(files.len() >= 2, "at least one requested checkpoint and the final one");
    println!(
        "FAULTS 100 x SIGUSR1: {} checkpoints written, all valid; training went on (step {first} → {later})",
        files.len()
    );
}

#[test]
fn sigterm_during_validation_exits_promptly_with_a_checkpoint() {
    let scene = Scene::new("faults-term-validation", 4);
    support_val_folder(&scene);
    scene.configure(1000, "[checkpoint]\nevery_epochs = 0\n[validation]\nevery_epochs = 0\nevery_steps = 2\n");
    let text = std::fs::read_to_string(scene.dir.join("run.toml"))
        .unwrap()
        .replace("batch_size = 4", &format!("val = \"{}\"\nbatch_size = 4", scene.dir.join("val").display()));
    let text = text.replace("output_size = 32", "output_size = 32\neval_resize = 256\neval_crop = 224");
    std::fs::write(scene.dir.join("run.toml"), text).unwrap();
    let mut daemon = scene.start();
    daemon.wait_for("\"message\":\"validation\"", MINUTE * 3); // the one at step 0: how long it takes
    let line = daemon.wait_for("\"step\":2", MINUTE);
    assert!(line.contains("\"message\":\"step\""), "{line}");
    std::thread::sleep(Duration::from_millis(300)); // inside the step-2 validation
    let sent = Instant::now();
    daemon.signal("TERM");
    let status = daemon.wait(MINUTE);
    let took = sent.elapsed();
    let lines = daemon.drain();
    assert!(status.success(), "{}", lines.join("\n"));
    assert!(lines.iter().any(|l| l.contains("validation interrupted by a stop request")), "{}", lines.join("\n"));
    let files = checkpoint_files(&scene.run_dir());
    assert_eq!(TrainingState::load(files.last().unwrap()).unwrap().step, 2, "checkpoint at the step boundary");
    println!("FAULTS SIGTERM during validation: exited 0 in {:.2} s with the step-2 checkpoint", took.as_secs_f64());
}

/// 3 classes x 60 images at 224 px: a validation pass of several chunks, seconds on the CPU.
fn support_val_folder(scene: &Scene) {
    crate::support::write_image_folder(&scene.dir.join("val"), &["a", "b", "c"], 60);
}

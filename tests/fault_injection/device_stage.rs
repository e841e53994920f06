//! A panic in the device stage (the kameo actor that uploads batches and runs the teacher) ends
//! the run with an error exit, the cause in the log and a checkpoint of the steps taken — and the
//! run resumes from it.

use lgd::checkpoint::TrainingState;

use crate::daemon::{checkpoint_files, logged, logged_steps, Scene};

#[test]
fn a_panicking_device_stage_stops_the_run_with_a_checkpoint_and_its_cause() {
    let scene = Scene::new("faults-device-stage", 4); // 12 images: 3 steps per epoch
    scene.configure(4, "[checkpoint]\nevery_epochs = 0\n[fault_injection]\ndevice_stage_panic_batch = 5\n");
    let (status, lines) = scene.run_to_end();
    assert!(!status.success(), "an actor's panic is an error exit:\n{}", lines.join("\n"));
    assert!(logged(&lines, &["device stage panicked", "device_stage_panic_batch = 5"]), "{}", lines.join("\n"));
    let steps = logged_steps(&lines);
    // Batches 1-4 were prepared, so steps 1-4 ran; the step of batch 5 never did.
    assert_eq!(steps.last(), Some(&4), "{}", lines.join("\n"));
    let saved = checkpoint_files(&scene.run_dir());
    let last = TrainingState::load(saved.last().expect("a checkpoint of the steps taken")).unwrap();
    assert_eq!(last.step, 4);

    scene.configure(4, "[checkpoint]\nevery_epochs = 0\n");
    let (status, lines) = scene.run_to_end();
    assert!(status.success(), "{}", lines.join("\n"));
    assert!(
        logged(&lines, &["resuming", "\"step\":4"]) && logged(&lines, &["\"message\":\"step\"", "\"step\":12"]),
        "{}",
        lines.join("\n")
    );
    println!(
        "FAULTS device stage: panic on batch 5 stopped the run after step 4 with its checkpoint; resumed to step 12"
    );
}

//! A panic in the student step (the kameo stage that owns the trainer), or a step that never ends,
//! ends the run with an error exit and the cause in the log. The trainer may be half updated or
//! stuck, so no final checkpoint is written from it (the log says so): the last periodic one stays
//! the newest, and the run resumes from it.

use std::time::{Duration, Instant};

use lgd::checkpoint::TrainingState;

use crate::daemon::{checkpoint_files, json_records, logged, logged_steps, Scene};

/// The next start of a run whose newest checkpoint is step 3 resumes from it and trains to step 12.
fn resumes_from_step_3_to_12(scene: &Scene) {
    scene.configure(4, "[checkpoint]\nevery_epochs = 0\n");
    let (status, lines) = scene.run_to_end();
    assert!(status.success(), "{}", lines.join("\n"));
    assert!(
        logged(&lines, &["resuming", "\"step\":3"]) && logged(&lines, &["\"message\":\"step\"", "\"step\":12"]),
        "{}",
        lines.join("\n")
    );
}

#[test]
fn a_panicking_student_step_stops_the_run_and_the_last_checkpoint_stands() {
    let scene = Scene::new("faults-student-stage", 4); // 12 images: 3 steps per epoch
    scene.configure(4, "[checkpoint]\nevery_epochs = 0\nevery_steps = 3\n[fault_injection]\nstudent_panic_step = 5\n");
    let (status, lines) = scene.run_to_end();
    assert!(!status.success(), "an actor's panic is an error exit:\n{}", lines.join("\n"));
    assert!(logged(&lines, &["student optimisation panicked", "student_panic_step = 5"]), "{}", lines.join("\n"));
    // The panic itself is one JSON record of the log, backtrace and all, like every other line.
    let records = json_records(&lines);
    let panics: Vec<&serde_json::Value> = records.iter().filter(|r| r["target"] == "panic").collect();
    assert_eq!(panics.len(), 1, "{}", lines.join("\n"));
    assert_eq!(panics[0]["thread"], "lgd-student", "{}", panics[0]);
    assert!(
        panics[0]["message"].as_str().is_some_and(|m| m.ends_with("panicked: fault injection: student_panic_step = 5")),
        "{}",
        panics[0]
    );
    assert!(
        panics[0]["location"].as_str().is_some_and(|l| l.starts_with("src/daemon/student_stage.rs:")),
        "{}",
        panics[0]
    );
    // The final checkpoint is refused, with the reason.
    assert!(
        logged(&lines, &["no final checkpoint", "checkpoint at step 4", "unusable after its panic"]),
        "{}",
        lines.join("\n")
    );
    let steps = logged_steps(&lines);
    assert_eq!(steps.last(), Some(&4), "{}", lines.join("\n"));
    let saved = checkpoint_files(&scene.run_dir());
    let last = TrainingState::load(saved.last().expect("the periodic checkpoint of step 3")).unwrap();
    assert_eq!(last.step, 3);
    let status_file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(scene.run_dir().join("status.json")).unwrap()).unwrap();
    assert_eq!(status_file["state"], "failed", "{status_file}");

    resumes_from_step_3_to_12(&scene);
    println!("FAULTS student stage: panic at step 5 stopped the run with an error exit; no final checkpoint from the poisoned trainer; the step-3 checkpoint stood and the run resumed to step 12");
}

#[test]
fn a_student_step_that_never_ends_stops_the_run_and_the_last_checkpoint_stands() {
    let scene = Scene::new("faults-student-stall", 4); // 12 images: 3 steps per epoch
    scene.configure(4, "[guards]\nstall_timeout_s = 3\n[checkpoint]\nevery_epochs = 0\nevery_steps = 3\n[fault_injection]\nstudent_stall_step = 5\n");
    let started = Instant::now();
    let (status, lines) = scene.run_to_end();
    let took = started.elapsed();
    assert!(!status.success(), "a stalled step is an error exit:\n{}", lines.join("\n"));
    assert!(took < Duration::from_secs(60), "the stuck thread held up the exit: {took:?}");
    assert!(
        logged(&lines, &["student optimisation stalled: step 5 has not finished after 3.0 s", "lgd-student"]),
        "{}",
        lines.join("\n")
    );
    assert!(
        logged(&lines, &["no final checkpoint", "checkpoint at step 4", "stuck in step 5"]),
        "{}",
        lines.join("\n")
    );
    assert_eq!(logged_steps(&lines).last(), Some(&4), "{}", lines.join("\n"));
    let saved = checkpoint_files(&scene.run_dir());
    assert_eq!(TrainingState::load(saved.last().expect("the periodic checkpoint of step 3")).unwrap().step, 3);
    let status_file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(scene.run_dir().join("status.json")).unwrap()).unwrap();
    assert_eq!(status_file["state"], "failed", "{status_file}");
    assert!(status_file["message"].as_str().is_some_and(|m| m.contains("stalled")), "{status_file}");

    resumes_from_step_3_to_12(&scene);
    println!("FAULTS student stall: step 5 blocked for good; the run stopped {:.1} s after it started, naming the step and the thread; the step-3 checkpoint stood and the run resumed to step 12", took.as_secs_f64());
}

#[test]
fn a_student_step_that_fails_part_way_writes_no_checkpoint_of_a_state_that_is_no_steps() {
    // As when a replica's gradient all-reduce fails because a peer died: the step has run its
    // forward (batch-norm statistics moved) but not ended, so no final checkpoint may claim it.
    let scene = Scene::new("faults-student-error", 4); // 12 images: 3 steps per epoch
    scene.configure(4, "[checkpoint]\nevery_epochs = 0\nevery_steps = 3\n[fault_injection]\nstudent_error_step = 5\n");
    let (status, lines) = scene.run_to_end();
    assert!(!status.success(), "a failed step is an error exit:\n{}", lines.join("\n"));
    assert!(logged(&lines, &["fault injection: student_error_step = 5"]), "{}", lines.join("\n"));
    assert!(
        logged(&lines, &["no final checkpoint", "checkpoint at step 4", "unusable after step 5 failed part-way"]),
        "{}",
        lines.join("\n")
    );
    let saved = checkpoint_files(&scene.run_dir());
    assert_eq!(
        TrainingState::load(saved.last().expect("the periodic checkpoint of step 3")).unwrap().step,
        3,
        "{saved:?}"
    );
    let status_file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(scene.run_dir().join("status.json")).unwrap()).unwrap();
    assert_eq!(status_file["state"], "failed", "{status_file}");

    resumes_from_step_3_to_12(&scene);
    println!("FAULTS student step error: step 5 failed after its forward; no final checkpoint from the half-stepped trainer; the step-3 checkpoint stood and the run resumed to step 12");
}

#[test]
fn a_step_out_of_memory_names_the_batch_size_and_the_way_back() {
    let scene = Scene::new("faults-student-oom", 4); // 12 images: 3 steps per epoch
    scene.configure(4, "[checkpoint]\nevery_epochs = 0\nevery_steps = 3\n[fault_injection]\nstudent_oom_step = 5\n");
    let (status, lines) = scene.run_to_end();
    assert!(!status.success(), "{}", lines.join("\n"));
    let hint = [
        "can't allocate memory",
        "-- out of memory: a smaller `data.batch_size` (now 4) needs less",
        "lgd train --accept-changes",
    ];
    assert!(logged(&lines, &hint), "{}", lines.join("\n"));
    let status_file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(scene.run_dir().join("status.json")).unwrap()).unwrap();
    assert_eq!(status_file["state"], "failed", "{status_file}");
    assert!(status_file["message"].as_str().is_some_and(|m| hint.iter().all(|h| m.contains(h))), "{status_file}");
    assert!(logged(&lines, &["no final checkpoint", "unusable after step 5 failed part-way"]), "{}", lines.join("\n"));

    resumes_from_step_3_to_12(&scene);
    println!("FAULTS student out of memory: step 5's allocation failed; the error named data.batch_size and --accept-changes, in the log and status.json; the step-3 checkpoint stood and the run resumed to step 12");
}

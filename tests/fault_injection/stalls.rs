//! A decode worker blocked for good (injected): the watchdog names the stage, the worker and the
//! file within `guards.stall_timeout_s`, and the run stops cleanly with a checkpoint.

use std::time::{Duration, Instant};

use crate::daemon::{checkpoint_files, logged, Scene, MINUTE};

#[test]
fn a_stalled_worker_is_named_and_the_run_stops_with_a_checkpoint() {
    let scene = Scene::new("faults-stall", 4); // a/0..3, b/0..3, c/0..3: index 5 is b/1.ppm
    scene.configure(
        50,
        "[guards]\nstall_timeout_s = 3\n[checkpoint]\nevery_epochs = 0\n[fault_injection]\nstall_sample = 5\n",
    );
    let started = Instant::now();
    let (status, lines) = scene.run_to_end();
    let took = started.elapsed();
    assert!(!status.success(), "a stall is an error exit");
    assert!(
        logged(&lines, &["data pipeline stalled: no batch for 3.0 s", "lgd-decode-", "b/1.ppm"]),
        "{}",
        lines.join("\n")
    );
    assert!(took < Duration::from_secs(60), "stopped promptly: {took:?}");
    let steps_done = lines.iter().filter(|l| l.contains("\"message\":\"step\"")).count();
    if steps_done > 0 {
        assert!(!checkpoint_files(&scene.run_dir()).is_empty(), "the steps taken are checkpointed");
    }
    println!(
        "FAULTS stall: worker and file named after 3 s, run stopped in {:.1} s with {steps_done} steps checkpointed",
        took.as_secs_f64()
    );
}

/// A process stopped for longer than the stall timeout (SIGSTOP, as a batch scheduler suspends a
/// job) and continued is not a stall: the watchdogs count only time it was running.
#[test]
fn a_run_stopped_longer_than_the_stall_timeout_goes_on_when_continued() {
    let scene = Scene::new("faults-sigstop", 4);
    scene.configure(1000, "[guards]\nstall_timeout_s = 4\n[checkpoint]\nevery_epochs = 0\n");
    let mut daemon = scene.start();
    daemon.next_step(MINUTE);
    for _ in 0..2 {
        daemon.signal("STOP");
        std::thread::sleep(Duration::from_secs(7));
        daemon.signal("CONT");
        daemon.next_step(MINUTE);
    }
    let (first, later) = (daemon.next_step(MINUTE), (0..5).map(|_| daemon.next_step(MINUTE)).last().unwrap());
    assert!(later > first, "training went on");
    daemon.signal("TERM");
    let status = daemon.wait(MINUTE);
    let lines = daemon.drain();
    assert!(status.success(), "{}", lines.join("\n"));
    assert!(!logged(&lines, &["stalled"]), "{}", lines.join("\n"));
    println!("FAULTS SIGSTOP: stopped 2 x 7 s with a 4 s stall timeout; training went on to step {later} and stopped cleanly");
}

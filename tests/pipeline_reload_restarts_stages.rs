//! SIGHUP with new `[pipeline]` capacities and worker count: the data pipeline and the device
//! stage restart at the next step boundary, and the run goes on exactly as an unreloaded one —
//! every logged loss equal — because each view comes from its (seed, epoch, sample) stream.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use support::daemon::{cpu_config, spawn_train};

const STEPS: u64 = 14;

fn signal(child: &Child, name: &str) {
    assert!(Command::new("kill").args([&format!("-{name}"), &child.id().to_string()]).status().unwrap().success());
}

/// Reads step lines into `losses` until step `last` is logged; returns the other lines seen.
fn collect_until(lines: &Receiver<String>, last: u64, losses: &mut BTreeMap<u64, String>) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut others = Vec::new();
    while !losses.contains_key(&last) {
        assert!(Instant::now() < deadline, "step {last} not logged in time; saw:\n{}", others.join("\n"));
        let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) else { continue };
        let value: serde_json::Value = match serde_json::from_str(&line) {
            Ok(value) => value,
            Err(_) => continue, // libtorch's own warnings
        };
        if value["message"] == "step" {
            losses.insert(value["step"].as_u64().unwrap(), value["loss"].to_string());
        } else {
            others.push(line);
        }
    }
    others
}

/// Trains the shared CPU config; with `reload`, swaps in `reload`'s `[pipeline]` at step 3.
fn losses(dir: &Path, reload: Option<&str>) -> (BTreeMap<u64, String>, Vec<String>) {
    support::write_image_folder(&dir.join("data"), &["a", "b", "c"], 4);
    let base = "[pipeline]\ndecode_workers = 2\ndecoded_samples = 16\nhost_batches = 3\ndevice_batches = 2\nteacher_outputs = 2\n";
    std::fs::write(dir.join("run.toml"), cpu_config(dir, 1000, base)).unwrap();
    let (mut child, lines) = spawn_train(dir);
    let mut losses = BTreeMap::new();
    let mut others = Vec::new();
    if let Some(pipeline) = reload {
        others.extend(collect_until(&lines, 3, &mut losses));
        std::fs::write(dir.join("run.toml"), cpu_config(dir, 1000, pipeline)).unwrap();
        signal(&child, "HUP");
    }
    others.extend(collect_until(&lines, STEPS, &mut losses));
    signal(&child, "TERM");
    assert!(child.wait().unwrap().success());
    (losses, others)
}

#[test]
fn new_pipeline_capacities_apply_live_and_change_nothing_learned() {
    let reloaded = support::scratch("pipeline-reload");
    let smaller = "[pipeline]\ndecode_workers = 1\ndecoded_samples = 4\nhost_batches = 1\ndevice_batches = 1\nteacher_outputs = 1\n";
    let (with_reload, log) = losses(&reloaded, Some(smaller));
    let applied = log
        .iter()
        .find(|l| l.contains("config reloaded"))
        .unwrap_or_else(|| panic!("no reload line:\n{}", log.join("\n")));
    for change in [
        "pipeline.decode_workers: 2 -> 1",
        "pipeline.host_batches: 3 -> 1",
        "pipeline.device_batches: 2 -> 1",
        "pipeline.teacher_outputs: 2 -> 1",
    ] {
        assert!(applied.contains(change), "{change} missing from {applied}");
    }
    let restarted = log.iter().find(|l| l.contains("data stages restarted")).expect("the stages restart");
    assert!(restarted.contains("\"decode_workers\":1") && restarted.contains("\"device_batches\":1"), "{restarted}");

    let plain = support::scratch("pipeline-plain");
    let (without, _) = losses(&plain, None);
    for step in 1..=STEPS {
        assert_eq!(with_reload[&step], without[&step], "loss at step {step} differs after the reload");
    }
    std::fs::remove_dir_all(&reloaded).unwrap();
    std::fs::remove_dir_all(&plain).unwrap();
}

//! libtorch's own warnings join the daemon's log: under `--log-format json` a warning that
//! libtorch writes from the student's thread is one JSON object with its level, its source in
//! libtorch and its text, and every line of the log stays a JSON object.

use crate::daemon::{json_records, Scene};

#[test]
fn a_libtorch_warning_in_a_step_is_one_json_object_of_the_log() {
    let scene = Scene::new("faults-libtorch-warning", 4); // 12 images: 3 steps per epoch
    scene.configure(1, "[fault_injection]\nlibtorch_warning_step = 2\n");
    let (status, lines) = scene.run_to_end();
    assert!(status.success(), "a warning is no failure:\n{}", lines.join("\n"));
    let records = json_records(&lines);
    let warnings: Vec<&serde_json::Value> = records.iter().filter(|r| r["target"] == "libtorch").collect();
    assert_eq!(warnings.len(), 1, "{}", lines.join("\n"));
    let warning = warnings[0];
    assert_eq!(warning["level"], "WARN", "{warning}");
    assert!(warning["message"].as_str().is_some_and(|m| m.contains("was resized")), "{warning}");
    assert!(warning["location"].as_str().is_some_and(|l| l.contains(".cpp:")), "{warning}");
    println!("FAULTS libtorch warning: one JSON record {warning}");
}

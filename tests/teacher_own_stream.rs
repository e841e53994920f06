//! `teacher.own_stream` is read, kept in the run's config, and on the CPU (no streams) the run
//! says it has no effect and trains as it would without it. What it does on a GPU is measured by
//! scripts/bench-teacher-stream.sh.

mod support;

#[test]
fn own_stream_on_the_cpu_is_named_and_changes_nothing() {
    let dir = support::scratch("own-stream");
    support::write_image_folder(&dir.join("data"), &["a", "b", "c"], 4);
    let config = support::daemon::cpu_config(&dir, 1, "");
    let mut losses = Vec::new();
    for own_stream in [false, true] {
        let text =
            if own_stream { config.replace("[teacher]\n", "[teacher]\nown_stream = true\n") } else { config.clone() };
        std::fs::write(dir.join("run.toml"), &text).unwrap();
        let _ = std::fs::remove_dir_all(dir.join("run"));
        let output = support::daemon::train_to_end(&dir);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert_eq!(stderr.contains("teacher.own_stream has no effect on the CPU"), own_stream, "{stderr}");
        let kept = std::fs::read_to_string(dir.join("run/config.toml")).unwrap();
        assert_eq!(kept.contains("own_stream = true"), own_stream, "{kept}");
        let metrics = std::fs::read_to_string(dir.join("run/metrics.jsonl")).unwrap();
        let run: Vec<f64> = metrics
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["loss"].as_f64())
            .collect();
        losses.push(run);
    }
    assert!(!losses[0].is_empty());
    assert_eq!(losses[0], losses[1], "the same losses with and without it");
    println!("own_stream on the CPU: warned, kept in config.toml, {} identical losses", losses[0].len());
    std::fs::remove_dir_all(&dir).unwrap();
}

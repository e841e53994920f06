//! `teacher.cache_views = 2`: the first two epochs run the teacher and store its keys, the later
//! ones replay them (the pipeline shows epoch e the views of epoch e mod 2); the stored keys
//! outlive the process (a run given the file replays from its first step and trains exactly as
//! the run that stored them), and a file of another setting is not replayed.

mod support;

use std::path::Path;

use serde_json::Value;

/// Trains `dir/run` on `data` (4 epochs of 3 steps, every step logged); returns each step's loss
/// and the cache's (hits, misses) after it.
fn train(dir: &Path, data: &Path, seed: u64) -> Vec<(f64, u64, u64)> {
    let config = support::daemon::cpu_config(dir, 4, "")
        .replace(&dir.join("data").display().to_string(), &data.display().to_string())
        .replace("kind = \"supervised\"", "kind = \"supervised\"\ncache_views = 2")
        .replace("seed = 3", &format!("seed = {seed}"));
    std::fs::write(dir.join("run.toml"), config).unwrap();
    let trained = support::daemon::train_to_end(dir);
    assert!(trained.status.success(), "{}", String::from_utf8_lossy(&trained.stderr));
    let metrics = std::fs::read_to_string(dir.join("run/metrics.jsonl")).unwrap();
    metrics
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r.get("loss").is_some())
        .map(|r| {
            (
                r["loss"].as_f64().unwrap(),
                r["teacher_cache"]["hits"].as_u64().unwrap(),
                r["teacher_cache"]["misses"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn later_epochs_replay_and_the_file_carries_over() {
    let first = support::scratch("teacher-cache-first");
    let data = first.join("data");
    support::write_image_folder(&data, &["a", "b", "c"], 4);
    let losses = train(&first, &data, 3);
    let counts: Vec<(u64, u64)> = losses.iter().map(|&(_, h, m)| (h, m)).collect();
    assert_eq!(counts.len(), 12);
    assert_eq!(counts[5], (0, 6), "epochs 0 and 1 run the teacher");
    assert_eq!(counts[11], (6, 6), "epochs 2 and 3 replay");

    // A new run given the stored keys replays from its first step and trains identically.
    let second = support::scratch("teacher-cache-second");
    std::fs::create_dir_all(second.join("run")).unwrap();
    std::fs::copy(first.join("run/teacher_cache.bin"), second.join("run/teacher_cache.bin")).unwrap();
    let replayed = train(&second, &data, 3);
    assert_eq!(replayed.last().map(|&(_, h, m)| (h, m)), Some((12, 0)), "every batch replayed");
    let a: Vec<f64> = losses.iter().map(|l| l.0).collect();
    let b: Vec<f64> = replayed.iter().map(|l| l.0).collect();
    assert_eq!(a, b, "replayed keys are the keys the first run trained on");

    // Another seed draws other views: the copied file must not be replayed.
    let third = support::scratch("teacher-cache-third");
    std::fs::create_dir_all(third.join("run")).unwrap();
    std::fs::copy(first.join("run/teacher_cache.bin"), third.join("run/teacher_cache.bin")).unwrap();
    let other = train(&third, &data, 4);
    assert_eq!(other.last().map(|&(_, h, m)| (h, m)), Some((6, 6)), "a file of another setting starts afresh");
    for dir in [second, third, first] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

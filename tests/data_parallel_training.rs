//! Data-parallel `lgd train` over Gloo on 127.0.0.1, as real processes with the launcher's
//! environment: two ranks with batch b end where one process with batch 2b ends (a student whose
//! batch-norm statistics are frozen, so nothing depends on how the batch is split), both ranks
//! hold the same visual bank bit for bit, and a rank that dies ends the other within the timeout.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lgd::checkpoint::{checkpoint_path, TrainingState};
use support::daemon::cpu_config;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// 3 classes x 14 images: 5 global batches of 8 per epoch.
fn setup(name: &str, extra: &str) -> PathBuf {
    let dir = support::scratch(name);
    support::write_image_folder(&dir.join("data"), &["a", "b", "c"], 14);
    let config = cpu_config(&dir, 1, extra)
        .replace("batch_size = 4", "batch_size = 8")
        .replace("arch = \"resnet18\"", "arch = \"resnet18\"\nbatch_norm = \"frozen\"");
    std::fs::write(dir.join("run.toml"), config).unwrap();
    dir
}

fn train_command(dir: &Path, run: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lgd"));
    command
        .args(["--log-format", "json", "train", "--config"])
        .arg(dir.join("run.toml"))
        .arg("--run-dir")
        .arg(dir.join(run));
    command
}

/// Rank `rank` of `world` with its stderr in DIR/rank-N.log.
fn spawn_rank(dir: &Path, rank: usize, world: usize, port: u16) -> Child {
    let log = std::fs::File::create(dir.join(format!("rank-{rank}.log"))).unwrap();
    train_command(dir, "run")
        .envs([("RANK", rank.to_string()), ("WORLD_SIZE", world.to_string()), ("LOCAL_RANK", rank.to_string())])
        .envs([("MASTER_ADDR", "127.0.0.1".to_owned()), ("MASTER_PORT", port.to_string())])
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap()
}

fn wait_success(child: &mut Child, log: &Path) {
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "{} exited with {status}:\n{}",
        log.display(),
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

fn bank_digest(log: &str) -> String {
    let line =
        log.lines().find(|l| l.contains("visual_bank_sha256")).unwrap_or_else(|| panic!("no finished line:\n{log}"));
    let value: serde_json::Value = serde_json::from_str(line).unwrap();
    value["visual_bank_sha256"].as_str().unwrap_or_else(|| panic!("{line}")).to_owned()
}

/// `--log-format json` promises one JSON object per line, libtorch's warnings and the final
/// summary included.
fn assert_every_line_is_json(whose: &str, log: &str) {
    for line in log.lines() {
        let parsed = serde_json::from_str::<serde_json::Value>(line);
        assert!(
            parsed.is_ok_and(|value| value.is_object()),
            "{whose}'s JSON log has a line that is no JSON object: {line}"
        );
    }
}

fn max_difference(a: &tch::Tensor, b: &tch::Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

#[test]
fn two_ranks_with_batch_b_match_one_process_with_batch_2b() {
    let dir = setup("dp-equivalence", "");
    let single = train_command(&dir, "single").output().unwrap();
    assert!(single.status.success(), "single process:\n{}", String::from_utf8_lossy(&single.stderr));
    assert_every_line_is_json("the single process", &String::from_utf8_lossy(&single.stderr));

    let port = free_port();
    let mut ranks: Vec<Child> = (0..2).map(|rank| spawn_rank(&dir, rank, 2, port)).collect();
    for (rank, child) in ranks.iter_mut().enumerate() {
        wait_success(child, &dir.join(format!("rank-{rank}.log")));
    }
    let one = TrainingState::load(&checkpoint_path(&dir.join("single"), 5)).unwrap();
    let two = TrainingState::load(&checkpoint_path(&dir.join("run"), 5)).unwrap();
    assert!(!checkpoint_path(&dir.join("run/rank-1"), 5).exists(), "only rank 0 writes checkpoints");
    let mut worst = 0f64;
    for (name, value) in &one.model {
        let difference = max_difference(value, &two.model[name]);
        worst = worst.max(difference);
        assert!(difference <= 1e-6, "{name}: 2 ranks x 4 differ from 1 x 8 by {difference}");
    }
    println!("largest parameter difference after 5 steps, 2 ranks x 4 vs 1 x 8: {worst:.2e}");
    assert!(max_difference(&one.visual_bank, &two.visual_bank) <= 1e-6, "visual bank");
    let first = std::fs::read_to_string(dir.join("rank-0.log")).unwrap();
    let second = std::fs::read_to_string(dir.join("rank-1.log")).unwrap();
    assert_eq!(bank_digest(&first), bank_digest(&second), "both ranks hold the same V bit for bit");
    assert_every_line_is_json("rank 0", &first);
    assert_every_line_is_json("rank 1", &second);
    assert!(dir.join("run/rank-1/metrics.jsonl").exists(), "rank 1 keeps its own metrics");
    // Logged losses are the global batch's on every rank: what the single process logged.
    let losses = |path: PathBuf| -> Vec<(u64, f64)> {
        let text = std::fs::read_to_string(&path).unwrap();
        let records = text.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap());
        records
            .filter(|r| r.get("loss").is_some())
            .map(|r| (r["step"].as_u64().unwrap(), r["loss"].as_f64().unwrap()))
            .collect()
    };
    let expected = losses(dir.join("single/metrics.jsonl"));
    assert_eq!(expected.len(), 5);
    for path in [dir.join("run/metrics.jsonl"), dir.join("run/rank-1/metrics.jsonl")] {
        let logged = losses(path.clone());
        assert_eq!(logged.len(), expected.len(), "{}", path.display());
        for ((step, loss), (_, single)) in logged.iter().zip(&expected) {
            assert!(
                (loss - single).abs() <= 1e-5,
                "{} step {step}: loss {loss} vs one process {single}",
                path.display()
            );
        }
    }
}

/// Starts two ranks of a long run with `distributed.timeout_s = 15` (room for a slow start-up on a
/// loaded machine) and `extra` config, waits until rank 1 trains, does `to_first` to rank 0, and
/// returns how long rank 1 then took to fail, and its log.
fn rank_1_outlives_rank_0(name: &str, extra: &str, to_first: impl FnOnce(&mut Child)) -> (Duration, String) {
    let dir = setup(name, &format!("[distributed]\ntimeout_s = 15\n{extra}"));
    let config = std::fs::read_to_string(dir.join("run.toml")).unwrap().replace("epochs = 1", "epochs = 50");
    std::fs::write(dir.join("run.toml"), config).unwrap();
    let port = free_port();
    let mut first = spawn_rank(&dir, 0, 2, port);
    let mut second = spawn_rank(&dir, 1, 2, port);
    let log = dir.join("rank-1.log");
    wait_for_log(&log, "\"step\":3", &mut second);
    to_first(&mut first);
    let since = Instant::now();
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        if since.elapsed() > Duration::from_secs(60) {
            let _ = second.kill();
            let _ = first.kill();
            panic!("rank 1 still running 60 s after rank 0 stopped answering");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = first.kill();
    let _ = first.wait();
    assert!(!status.success(), "rank 1 must fail when its peer is gone: {status}");
    (since.elapsed(), std::fs::read_to_string(&log).unwrap())
}

#[test]
fn a_killed_rank_ends_the_other_at_once() {
    let (took, log) = rank_1_outlives_rank_0("dp-kill", "", |first| {
        first.kill().unwrap();
        first.wait().unwrap();
    });
    println!("rank 1 failed {:.1} s after rank 0 was killed", took.as_secs_f64());
    assert!(log.contains("collective failed"), "the cause is in the log:\n{log}");
}

#[test]
fn a_hung_rank_ends_the_other_within_the_timeout() {
    // SIGSTOP: the peer's sockets stay open, so only the group's timeout can end the wait. The
    // step's own watchdog, set shorter, waits it out: the group's error names the cause.
    let (took, log) =
        rank_1_outlives_rank_0("dp-hang", "[guards]\nstall_timeout_s = 5\n", |first| signal(first, "STOP"));
    println!("rank 1 failed {:.1} s after rank 0 was stopped (timeout 15 s)", took.as_secs_f64());
    // The wait under way when the peer froze may have begun up to a step earlier, so the time
    // since SIGSTOP is not a bound; libtorch's message says it was the timeout.
    assert!(log.contains("collective failed") && log.contains("timed out"), "the cause is in the log:\n{log}");
    assert!(
        !log.contains("student optimisation stalled"),
        "the step's watchdog fired before the group's timeout:\n{log}"
    );
}

fn wait_for_log(log: &Path, needle: &str, child: &mut Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains(needle)) {
            return line.to_owned();
        }
        assert!(Instant::now() < deadline, "no `{needle}` in {} within 120 s:\n{text}", log.display());
        assert!(child.try_wait().unwrap().is_none(), "{} exited before `{needle}`:\n{text}", log.display());
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn signal(child: &Child, name: &str) {
    assert!(Command::new("kill").args([&format!("-{name}"), &child.id().to_string()]).status().unwrap().success());
}

#[test]
fn a_signal_to_one_rank_is_acted_on_by_all_and_both_resume_from_rank_0s_checkpoint() {
    let dir = setup("dp-signals", "");
    let config = std::fs::read_to_string(dir.join("run.toml")).unwrap().replace("epochs = 1", "epochs = 50");
    std::fs::write(dir.join("run.toml"), config).unwrap();
    let port = free_port();
    let mut first = spawn_rank(&dir, 0, 2, port);
    let mut second = spawn_rank(&dir, 1, 2, port);
    let (log0, log1) = (dir.join("rank-0.log"), dir.join("rank-1.log"));
    wait_for_log(&log1, "\"step\":2", &mut second);
    // SIGUSR1 to rank 1 only: rank 0, the writer, checkpoints at the same step boundary.
    signal(&second, "USR1");
    wait_for_log(&log0, "checkpoint written", &mut first);
    // SIGTERM to rank 1 only: both stop cleanly at one step, rank 0 with a final checkpoint.
    signal(&second, "TERM");
    wait_success(&mut first, &log0);
    wait_success(&mut second, &log1);
    let steps = |log: &Path| -> u64 {
        let text = std::fs::read_to_string(log).unwrap();
        let line = text.lines().rev().find(|l| l.contains("visual_bank_sha256")).unwrap().to_owned();
        serde_json::from_str::<serde_json::Value>(&line).unwrap()["steps"].as_u64().unwrap()
    };
    let stopped_at = steps(&log0);
    assert_eq!(steps(&log1), stopped_at, "both ranks stopped after the same step");
    assert!(checkpoint_path(&dir.join("run"), stopped_at).exists());

    // Both ranks resume from rank 0's newest checkpoint and train on in step.
    let port = free_port();
    let mut first = spawn_rank(&dir, 0, 2, port);
    let mut second = spawn_rank(&dir, 1, 2, port);
    for (log, child) in [(&log0, &mut first), (&log1, &mut second)] {
        let line = wait_for_log(log, "\"message\":\"resuming\"", child);
        assert!(line.contains(&format!("\"step\":{stopped_at}")), "{line}");
    }
    wait_for_log(&log1, &format!("\"step\":{}", stopped_at + 2), &mut second);
    signal(&first, "TERM");
    wait_success(&mut first, &log0);
    wait_success(&mut second, &log1);
    assert_eq!(
        bank_digest(&std::fs::read_to_string(&log0).unwrap()),
        bank_digest(&std::fs::read_to_string(&log1).unwrap())
    );
}

#[test]
fn torchrun_no_python_runs_two_ranks_of_lgd_train() {
    let dir = setup("dp-torchrun", "");
    let torchrun = support::python().with_file_name("torchrun");
    let output = Command::new(&torchrun)
        .args(["--no-python", "--nnodes", "1", "--nproc-per-node", "2", "--master-addr", "127.0.0.1"])
        .arg(format!("--master-port={}", free_port()))
        .arg(env!("CARGO_BIN_EXE_lgd"))
        .args(["train", "--config"])
        .arg(dir.join("run.toml"))
        .arg("--run-dir")
        .arg(dir.join("run"))
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", torchrun.display()));
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "torchrun exited with {}:\n{log}", output.status);
    assert!(checkpoint_path(&dir.join("run"), 5).exists(), "rank 0 wrote the final checkpoint:\n{log}");
    assert!(dir.join("run/rank-1/metrics.jsonl").exists(), "rank 1 ran:\n{log}");
}

#[test]
fn lgd_launch_runs_two_ranks_of_lgd_train() {
    let dir = setup("dp-launch", "");
    let output = Command::new(env!("CARGO_BIN_EXE_lgd"))
        .args([
            "--log-format",
            "json",
            "launch",
            "--nproc-per-node",
            "2",
            "--master-port",
            "0",
            "--",
            "train",
            "--config",
        ])
        .arg(dir.join("run.toml"))
        .arg("--run-dir")
        .arg(dir.join("run"))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "lgd launch exited with {}:\n{log}", output.status);
    assert!(checkpoint_path(&dir.join("run"), 5).exists(), "rank 0 wrote the final checkpoint:\n{log}");
    assert!(dir.join("run/rank-1/metrics.jsonl").exists(), "rank 1 ran:\n{log}");
    assert_every_line_is_json("lgd launch (the launcher and both ranks)", &log);
}

#[test]
fn a_group_of_one_trains_bit_for_bit_like_a_lone_process() {
    // What a 1-GPU `lgd launch` (and scripts/bench-multi-gpu.sh's baseline) runs: the reducer,
    // the key gathering and the flag agreement over a group of one change nothing.
    let dir = setup("dp-group-of-one", "");
    let single = train_command(&dir, "single").output().unwrap();
    assert!(single.status.success(), "single process:\n{}", String::from_utf8_lossy(&single.stderr));
    let port = free_port();
    let mut rank = spawn_rank(&dir, 0, 1, port);
    wait_success(&mut rank, &dir.join("rank-0.log"));
    let one = TrainingState::load(&checkpoint_path(&dir.join("single"), 5)).unwrap();
    let group = TrainingState::load(&checkpoint_path(&dir.join("run"), 5)).unwrap();
    for (name, value) in &one.model {
        assert!(value.equal(&group.model[name]), "{name} differs");
    }
    assert!(one.visual_bank.equal(&group.visual_bank));
    assert!(std::fs::read_to_string(dir.join("rank-0.log")).unwrap().contains("joining the process group"));
}

#[test]
fn two_launchers_as_two_nodes_form_one_group() {
    // `--nnodes 2 --node-rank 0|1`: what two machines run, here both on 127.0.0.1.
    let dir = setup("dp-two-nodes", "");
    let port = free_port().to_string();
    let mut nodes: Vec<Child> = (0..2)
        .map(|node| {
            let log = std::fs::File::create(dir.join(format!("node-{node}.log"))).unwrap();
            Command::new(env!("CARGO_BIN_EXE_lgd"))
                .args(["launch", "--nproc-per-node", "1", "--nnodes", "2", "--node-rank", &node.to_string()])
                .args(["--master-addr", "127.0.0.1", "--master-port", &port, "--", "train", "--config"])
                .arg(dir.join("run.toml"))
                .arg("--run-dir")
                .arg(dir.join("run"))
                .stderr(Stdio::from(log))
                .spawn()
                .unwrap()
        })
        .collect();
    for (node, child) in nodes.iter_mut().enumerate() {
        wait_success(child, &dir.join(format!("node-{node}.log")));
    }
    assert!(checkpoint_path(&dir.join("run"), 5).exists(), "rank 0 (node 0) wrote the final checkpoint");
    assert!(dir.join("run/rank-1/metrics.jsonl").exists(), "rank 1 (node 1) ran");
}

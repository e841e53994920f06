//! Two nodes on one machine over loopback, Gloo, 2 ranks each, the two ways a cluster starts
//! them: four `lgd train` tasks with only Slurm's variables (what `srun lgd train` gives them:
//! no launcher, no torchrun variables), one node's tasks killed mid-run; two `lgd launch
//! --nnodes 2 --node-rank 0|1` launchers, one of them killed mid-run. Either way the run is
//! started again, resumes and trains to the end, and every rank ends with the same visual bank
//! and weights.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lgd::checkpoint::checkpoint_path;
use support::daemon::cpu_config;

const WORLD: usize = 4;

/// 3 classes x 6 images, global batch 8 (2 a rank): 2 steps an epoch, `epochs` epochs.
fn setup(name: &str, epochs: u32) -> PathBuf {
    let dir = support::scratch(name);
    support::write_image_folder(&dir.join("data"), &["a", "b", "c"], 6);
    let config = cpu_config(&dir, epochs, "")
        .replace("batch_size = 4", "batch_size = 8")
        .replace("arch = \"resnet18\"", "arch = \"resnet18\"\nbatch_norm = \"frozen\"");
    std::fs::write(dir.join("run.toml"), config).unwrap();
    dir
}

/// `lgd … train` on the run, its stderr in `log`, with no launcher's variables inherited.
fn lgd(dir: &Path, log: &Path, before_train: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lgd"));
    command.args(["--log-format", "json"]).args(before_train).args(["train", "--config"]);
    command.arg(dir.join("run.toml")).arg("--run-dir").arg(dir.join("run"));
    for variable in ["RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"] {
        command.env_remove(variable);
    }
    command.stderr(Stdio::from(std::fs::File::create(log).unwrap()));
    command
}

fn wait_success(child: &mut Child, log: &Path) {
    let status = child.wait().unwrap();
    assert!(status.success(), "{} exited with {status}:\n{}", log.display(), read(log));
}

fn read(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

/// Every rank's (visual bank, weights) digests from its last line, in the order of `logs`' lines
/// (a launcher's log holds its ranks' lines).
fn digests(logs: &[PathBuf]) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for log in logs {
        for line in read(log).lines().filter(|l| l.contains("visual_bank_sha256")) {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            let field = |name: &str| value[name].as_str().unwrap_or_else(|| panic!("no {name}: {line}")).to_owned();
            found.push((field("visual_bank_sha256"), field("weights_sha256")));
        }
    }
    found
}

fn assert_all_ranks_alike(logs: &[PathBuf]) {
    let found = digests(logs);
    assert_eq!(found.len(), WORLD, "one finished line per rank");
    assert!(found.iter().all(|d| *d == found[0]), "ranks disagree: {found:?}");
}

/// A port in Slurm's derived range (15000 + SLURM_JOB_ID % 17000) that is free now, and a job id
/// that derives it.
fn free_slurm_port() -> (u16, u64) {
    let start = std::process::id() as u64 % 17_000;
    (0..17_000u64)
        .map(|i| (start + i * 7919) % 17_000)
        .find_map(|offset| {
            let port = lgd::distributed::port_of_job(offset + 3 * 17_000);
            std::net::TcpListener::bind(("127.0.0.1", port)).ok().map(|_| (port, offset + 3 * 17_000))
        })
        .expect("a free port in 15000-31999")
}

/// Task `rank` of Slurm job `job`, 2 tasks a node, as `srun` starts it.
fn slurm_task(dir: &Path, rank: usize, job: u64, log: &Path) -> Child {
    lgd(dir, log, &[])
        .envs([("SLURM_PROCID", rank.to_string()), ("SLURM_NTASKS", WORLD.to_string())])
        .envs([("SLURM_LOCALID", (rank % 2).to_string()), ("SLURM_NODEID", (rank / 2).to_string())])
        .envs([("SLURM_TASKS_PER_NODE", "2(x2)"), ("SLURM_JOB_NODELIST", "127.0.0.[1-2]")])
        .env("SLURM_JOB_ID", job.to_string())
        .spawn()
        .unwrap()
}

#[test]
fn slurm_tasks_without_a_launcher_resume_after_a_node_dies_and_end_alike() {
    let dir = setup("slurm-tasks", 3);
    let config = std::fs::read_to_string(dir.join("run.toml")).unwrap();
    std::fs::write(dir.join("run.toml"), config.replace("keep_last = 50", "keep_last = 50\nevery_steps = 1")).unwrap();
    let (port, job) = free_slurm_port();
    let logs: Vec<PathBuf> = (0..WORLD).map(|rank| dir.join(format!("task-{rank}.log"))).collect();
    let mut tasks: Vec<Child> = (0..WORLD).map(|rank| slurm_task(&dir, rank, job, &logs[rank])).collect();
    wait_for_log(&logs[3], "\"step\":2");
    // Node 1 dies at once (SIGKILL to its two tasks): no word to the others, which fail in
    // their next collective; the run keeps rank 0's last checkpoint of a whole step.
    for task in &mut tasks[2..] {
        task.kill().unwrap();
        task.wait().unwrap();
    }
    for (task, log) in tasks[..2].iter_mut().zip(&logs) {
        let status = task.wait().unwrap();
        assert!(!status.success(), "a survivor of a dead node fails: {status}\n{}", read(log));
    }
    let source = read(&logs[3]);
    let expected = format!(
        "rendezvous from Slurm (SLURM_PROCID=3, SLURM_NTASKS=4, SLURM_LOCALID=1; address 127.0.0.1 from the first host of SLURM_JOB_NODELIST=127.0.0.[1-2], port {port} from 15000 + SLURM_JOB_ID={job} % 17000)"
    );
    assert!(source.contains(&expected), "the source is logged: {expected}\n{source}");

    let (_, job) = free_slurm_port();
    let logs: Vec<PathBuf> = (0..WORLD).map(|rank| dir.join(format!("task-{rank}-again.log"))).collect();
    let mut tasks: Vec<Child> = (0..WORLD).map(|rank| slurm_task(&dir, rank, job, &logs[rank])).collect();
    for (task, log) in tasks.iter_mut().zip(&logs) {
        wait_success(task, log);
    }
    for log in &logs {
        assert!(read(log).contains("\"message\":\"resuming\""), "every task resumed:\n{}", read(log));
    }
    assert!(checkpoint_path(&dir.join("run"), 6).exists(), "rank 0 saved the end");
    assert_all_ranks_alike(&logs);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Node `node`'s launcher: 2 ranks of the 4.
fn node(dir: &Path, node: usize, port: u16, log: &Path) -> Child {
    let node = node.to_string();
    let port = port.to_string();
    let launch = ["launch", "--nnodes", "2", "--node-rank", &node, "--nproc-per-node", "2"];
    lgd(dir, log, &[&launch[..], &["--master-addr", "127.0.0.1", "--master-port", &port, "--"]].concat())
        .spawn()
        .unwrap()
}

fn wait_for_log(log: &Path, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !read(log).contains(needle) {
        assert!(Instant::now() < deadline, "no `{needle}` in {} within 120 s:\n{}", log.display(), read(log));
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn two_launched_nodes_resume_after_one_is_killed_and_end_alike() {
    let dir = setup("two-nodes-kill", 4);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let logs = [dir.join("node-0.log"), dir.join("node-1.log")];
    let mut first = node(&dir, 0, port, &logs[0]);
    let mut second = node(&dir, 1, port, &logs[1]);
    wait_for_log(&logs[1], "\"step\":1");
    // Node 1's launcher dies without a word (SIGKILL): its ranks get the SIGTERM the kernel
    // sends on the launcher's death, the group stops at one step, and rank 0 saves it.
    second.kill().unwrap();
    second.wait().unwrap();
    let status = first.wait().unwrap();
    let stopped = std::fs::read_dir(dir.join("run/checkpoints")).map(|d| d.count()).unwrap_or(0);
    assert!(stopped >= 1, "rank 0 saved where the group stopped (node 0 exited {status}):\n{}", read(&logs[0]));

    let logs = [dir.join("node-0-again.log"), dir.join("node-1-again.log")];
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut nodes = [node(&dir, 0, port, &logs[0]), node(&dir, 1, port, &logs[1])];
    for (child, log) in nodes.iter_mut().zip(&logs) {
        wait_success(child, log);
    }
    for log in &logs {
        assert_eq!(read(log).matches("\"message\":\"resuming\"").count(), 2, "both ranks resumed:\n{}", read(log));
    }
    assert!(checkpoint_path(&dir.join("run"), 8).exists(), "the run trained to its end");
    assert_all_ranks_alike(&logs);
    std::fs::remove_dir_all(&dir).unwrap();
}

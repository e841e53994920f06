//! `lgd launch` running the real binary as its ranks: every rank runs the command, a failing
//! command's code is the launch's, a SIGTERM to the launcher reaches ranks blocked in their work,
//! and bad arguments are refused before anything starts.

mod support;

use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn lgd() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lgd"));
    command.current_dir(support::root());
    command
}

#[test]
fn every_rank_runs_the_command_and_all_passing_gives_0() {
    let output = lgd()
        .args(["launch", "--nproc-per-node", "2", "--", "check-config", "configs/imagenet-r18-clip-rn50.toml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.matches("[optimizer]").count(), 2, "each rank printed the config: {stdout}");
    assert_eq!(stderr.matches("rank started").count(), 2, "{stderr}");
}

#[test]
fn the_launchers_log_format_reaches_the_ranks() {
    let output = lgd()
        .args([
            "--log-format",
            "json",
            "launch",
            "--nproc-per-node",
            "2",
            "--",
            "check-config",
            "configs/imagenet-r18-clip-rn50.toml",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let valid: Vec<&str> = stderr.lines().filter(|l| l.contains("config is valid")).collect();
    assert_eq!(valid.len(), 2, "{stderr}");
    for line in valid {
        assert!(serde_json::from_str::<serde_json::Value>(line).is_ok(), "a rank logged text, not JSON: {line}");
    }
    // A rank command that sets its own format keeps it.
    let output = lgd()
        .args([
            "--log-format",
            "json",
            "launch",
            "--",
            "--log-format",
            "text",
            "check-config",
            "configs/imagenet-r18-clip-rn50.toml",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let line = stderr.lines().find(|l| l.contains("config is valid")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(serde_json::from_str::<serde_json::Value>(line).is_err(), "{line}");
}

#[test]
fn a_failing_rank_gives_its_exit_code_and_is_named() {
    let output =
        lgd().args(["launch", "--nproc-per-node", "2", "--", "check-config", "/nonexistent.toml"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "check-config's own failure code: {stderr}");
    assert!(stderr.contains("/nonexistent.toml"), "the ranks' errors reach the terminal: {stderr}");
    assert!(stderr.contains("failed first"), "the first failing rank is named: {stderr}");
}

#[test]
fn sigterm_to_the_launcher_reaches_ranks_blocked_in_a_download() {
    // A server that accepts and never answers: `fetch-clip` waits on it until the signal arrives.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/models/{}/RN50.pt", listener.local_addr().unwrap(), "0".repeat(64));
    let dir = support::scratch("launch-sigterm");
    let mut launcher = lgd()
        .args(["launch", "--nproc-per-node", "2", "--", "fetch-clip", "--url", &url, "--out"])
        .arg(&dir)
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Both ranks are running once both have connected.
    let connections: Vec<_> = (0..2).map(|_| listener.accept().unwrap().0).collect();
    // SAFETY: kill has no memory-safety preconditions; the pid is our unreaped child's.
    assert_eq!(unsafe { libc::kill(launcher.id() as libc::pid_t, libc::SIGTERM) }, 0);
    let sent = Instant::now();
    let status = launcher.wait().unwrap();
    let mut stderr = String::new();
    launcher.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(sent.elapsed() < Duration::from_secs(30), "the ranks did not wait for the server's 60 s read timeout");
    assert_eq!(status.code(), Some(128 + libc::SIGTERM), "the ranks died of the forwarded SIGTERM: {stderr}");
    assert!(stderr.contains("forwarding the signal"), "{stderr}");
    drop(connections);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_arguments_are_refused_before_anything_starts() {
    let no_command = lgd().args(["launch", "--nproc-per-node", "2"]).output().unwrap();
    assert_eq!(no_command.status.code(), Some(2), "clap's usage error");
    let zero = lgd().args(["launch", "--nproc-per-node", "0", "--", "info"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&zero.stderr);
    assert_eq!(zero.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--nproc-per-node must be at least 1") && !stderr.contains("rank started"), "{stderr}");
    let node_rank = lgd().args(["launch", "--nnodes", "2", "--node-rank", "2", "--", "info"]).output().unwrap();
    assert!(String::from_utf8_lossy(&node_rank.stderr).contains("--node-rank 2 is out of range"));
}

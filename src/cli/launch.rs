//! `lgd launch`: its arguments and how they become a launch of this very executable per rank.

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::Context;
use lgd::launch::LaunchPlan;
use lgd::logging::LogFormat;

/// Where and how many ranks start, and the command each runs.
#[derive(clap::Args)]
pub struct LaunchArgs {
    /// Processes started on this node.
    #[arg(long, alias = "nproc_per_node", default_value_t = 1)]
    nproc_per_node: u32,
    /// Nodes taking part in the run.
    #[arg(long, default_value_t = 1)]
    nnodes: u32,
    /// This node's index, below --nnodes.
    #[arg(long, alias = "node_rank", default_value_t = 0)]
    node_rank: u32,
    /// Address of the node running rank 0.
    #[arg(long, alias = "master_addr", default_value = "127.0.0.1")]
    master_addr: String,
    /// Rank 0's rendezvous port; 0 picks a free one (one node only).
    #[arg(long, alias = "master_port", default_value_t = 29500)]
    master_port: u16,
    /// Seconds the other ranks get between SIGTERM and SIGKILL once one has failed.
    #[arg(long, default_value_t = 10)]
    grace_seconds: u64,
    /// The lgd command every rank runs, after `--`: `-- train --config c.toml --run-dir runs/a`.
    #[arg(last = true, required = true)]
    command: Vec<OsString>,
}

/// Starts the ranks and returns the launch's exit code (the first failing rank's, else 0).
pub fn run(args: LaunchArgs, log_format: LogFormat, log_level: &str) -> anyhow::Result<ExitCode> {
    let LaunchArgs { nproc_per_node, nnodes, node_rank, master_addr, master_port, grace_seconds, command } = args;
    let grace = std::time::Duration::from_secs(grace_seconds);
    let plan = LaunchPlan { nproc_per_node, nnodes, node_rank, master_addr, master_port, grace };
    launch(&plan, &with_logging(command, log_format, log_level))
}

/// The launcher's `--log-format` and `--log-level` put before a rank command that sets neither,
/// so `lgd --log-format json launch … -- train …` logs JSON from every rank.
fn with_logging(command: Vec<OsString>, format: LogFormat, level: &str) -> Vec<OsString> {
    let sets = |flag: &str| {
        command.iter().any(|a| a.to_str().is_some_and(|a| a == flag || a.starts_with(&format!("{flag}="))))
    };
    let mut full: Vec<OsString> = Vec::new();
    if !sets("--log-format") {
        let name = clap::ValueEnum::to_possible_value(&format).map_or("text".to_owned(), |v| v.get_name().to_owned());
        full.extend(["--log-format".into(), name.into()]);
    }
    if !sets("--log-level") {
        full.extend(["--log-level".into(), level.into()]);
    }
    full.extend(command);
    full
}

/// `lgd launch`: this very executable once per rank; the launch exits as its first failing rank.
fn launch(plan: &LaunchPlan, command: &[OsString]) -> anyhow::Result<ExitCode> {
    let program = std::env::current_exe().context("finding this executable to start the ranks")?;
    let code = lgd::launch::launch(plan, &program, command)?;
    // Codes are 0..=255 or 128 + a signal number, so the fallback is never taken.
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

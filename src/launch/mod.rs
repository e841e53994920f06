//! `lgd launch`: starts N copies of an `lgd` command on this node with torchrun's environment
//! (`RANK`, `WORLD_SIZE`, `MASTER_ADDR`, …), so a multi-process run needs no Python launcher and
//! scripts written for torchrun keep their flags and variables.
//!
//! The launcher forwards the operator's signals (SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGHUP) to every rank
//! and fails fast: the first rank to die with a non-zero code or a signal has the others stopped
//! (SIGTERM, then SIGKILL after a grace period), and its code becomes the launcher's. A collective
//! run cannot go on without one of its ranks; the survivors would only hang in their next
//! all-reduce.

mod rank_env;
mod supervise;

pub use rank_env::RankEnv;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One node's share of a launch, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchPlan {
    /// Processes started on this node (torchrun's `--nproc-per-node`).
    pub nproc_per_node: u32,
    /// Nodes taking part in the run.
    pub nnodes: u32,
    /// This node's index in `0..nnodes`.
    pub node_rank: u32,
    /// Where rank 0 listens for the process group's rendezvous.
    pub master_addr: String,
    /// Its port; 0 picks a free one on this machine (one node only).
    pub master_port: u16,
    /// How long ranks get between SIGTERM and SIGKILL once one of them has failed.
    pub grace: Duration,
}

impl Default for LaunchPlan {
    /// torchrun's defaults: one process, one node, 127.0.0.1:29500.
    fn default() -> Self {
        Self {
            nproc_per_node: 1,
            nnodes: 1,
            node_rank: 0,
            master_addr: "127.0.0.1".into(),
            master_port: 29500,
            grace: Duration::from_secs(10),
        }
    }
}

/// Why a launch did not start or could not be supervised (a failing rank is not an error: its
/// exit code is the launch's result).
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// `--nproc-per-node 0`.
    #[error("--nproc-per-node must be at least 1")]
    NoProcesses,
    /// `--nnodes 0`.
    #[error("--nnodes must be at least 1")]
    NoNodes,
    /// `--node-rank` not below `--nnodes`.
    #[error("--node-rank {node_rank} is out of range: with --nnodes {nnodes} it must be below {nnodes}")]
    NodeRankOutOfRange {
        /// The node rank given.
        node_rank: u32,
        /// The node count given.
        nnodes: u32,
    },
    /// `--master-port 0` with several nodes: the others could not learn which port was picked.
    #[error("--master-port 0 (pick a free port) needs --nnodes 1: the other nodes could not learn the port; give one")]
    FreePortNeedsOneNode,
    /// Nothing after `--`.
    #[error("no command to launch: give it after `--`, e.g. `lgd launch --nproc-per-node 2 -- train --config run.toml --run-dir runs/a`")]
    NoCommand,
    /// Binding 127.0.0.1:0 to learn a free port failed.
    #[error("finding a free port on 127.0.0.1")]
    FreePort(#[source] std::io::Error),
    /// The signal handlers could not be installed.
    #[error("installing the handlers that forward signals to the ranks")]
    Signals(#[source] std::io::Error),
    /// A rank could not be started (the ranks already started were stopped).
    #[error("starting rank {rank} ({})", program.display())]
    Spawn {
        /// The global rank.
        rank: u64,
        /// The program that was run.
        program: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Waiting on a rank failed (the ranks were killed).
    #[error("waiting for rank {rank}")]
    Wait {
        /// The global rank.
        rank: u64,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl LaunchPlan {
    /// Checks the plan on its own, before anything is started.
    pub fn validate(&self) -> Result<(), LaunchError> {
        if self.nproc_per_node == 0 {
            return Err(LaunchError::NoProcesses);
        }
        if self.nnodes == 0 {
            return Err(LaunchError::NoNodes);
        }
        if self.node_rank >= self.nnodes {
            return Err(LaunchError::NodeRankOutOfRange { node_rank: self.node_rank, nnodes: self.nnodes });
        }
        if self.master_port == 0 && self.nnodes > 1 {
            return Err(LaunchError::FreePortNeedsOneNode);
        }
        Ok(())
    }

    /// The port the ranks are told: the one given, or a free one found now. The probe socket is
    /// closed before rank 0 binds the port, a small window torchrun's `--master-port 0` has too.
    fn resolve_port(&self) -> Result<u16, LaunchError> {
        if self.master_port != 0 {
            return Ok(self.master_port);
        }
        let probe = std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(LaunchError::FreePort)?;
        Ok(probe.local_addr().map_err(LaunchError::FreePort)?.port())
    }
}

/// Runs `program args…` once per local rank with its torchrun environment, forwards signals,
/// and returns the exit code of the first rank to fail (signal death as 128 + signo), else 0.
/// The binary passes its own executable; tests pass `/bin/sh`.
pub fn launch(plan: &LaunchPlan, program: &Path, args: &[OsString]) -> Result<i32, LaunchError> {
    plan.validate()?;
    if args.is_empty() {
        return Err(LaunchError::NoCommand);
    }
    let port = plan.resolve_port()?;
    let ranks: Vec<RankEnv> = (0..plan.nproc_per_node).map(|local| RankEnv::new(plan, port, local)).collect();
    supervise::run(program, args, &ranks, plan.grace)
}

#[cfg(test)]
mod tests;

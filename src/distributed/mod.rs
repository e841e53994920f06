//! Training on several processes (GPUs, machines) with libtorch's own distributed engine, c10d:
//! the launcher's or Slurm's environment ([`Rendezvous`]), one rank's process group ([`ProcessGroup`]: a
//! TCPStore rendezvous and a Gloo or NCCL backend) and what data-parallel training does with it
//! ([`DataParallel`]: parameters from rank 0, gradients averaged by libtorch's DDP reducer, the teacher keys of
//! every rank for the bank update, stop/checkpoint/reload requests agreed at a step boundary).

mod data_parallel;
pub mod hostlist;
mod process_group;
mod rendezvous;
mod slurm;

pub use data_parallel::DataParallel;
pub use process_group::{Backend, GradientReducer, Pending, ProcessGroup};
pub use rendezvous::{Rendezvous, RendezvousSource};
pub use slurm::port_of_job;

use std::time::Duration;

use crate::torch_ext::TorchExtError;

/// Why a process could not join its group or a collective failed.
#[derive(Debug, thiserror::Error)]
pub enum DistributedError {
    /// The launcher's environment is incomplete or inconsistent.
    #[error("{variable}: {problem}")]
    Environment {
        /// The variable at fault (`RANK`, `WORLD_SIZE`, …).
        variable: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The ranks did not all meet (unreachable master, a rank that never arrived, another world size).
    #[error("rank {rank} of {world_size} could not join the group at {master} within {timeout:?}: {cause}")]
    Rendezvous {
        /// `MASTER_ADDR:MASTER_PORT`.
        master: String,
        /// This process's rank.
        rank: usize,
        /// The world size this process was started with.
        world_size: usize,
        /// The configured timeout.
        timeout: Duration,
        /// libtorch's message.
        cause: String,
    },
    /// A collective failed: a peer died, or the group's timeout passed.
    #[error("collective failed (a peer exited or timed out): {0}")]
    Collective(#[source] TorchExtError),
    /// The ranks are not in step (e.g. they resumed from different checkpoints).
    #[error("ranks disagree: {0}")]
    Diverged(String),
}

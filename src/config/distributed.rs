//! `[distributed]`: how replicas started by `lgd launch` or torchrun talk to each other. Who and
//! where they are comes from the launcher's environment (RANK, WORLD_SIZE, MASTER_ADDR, …), not
//! from here, so one config file serves every rank.

use serde::{Deserialize, Serialize};

use super::problems::Problems;

/// Timeouts and gradient bucket size of data-parallel training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DistributedSection {
    /// Seconds a rank waits for the others: at the rendezvous, and in any collective (a peer
    /// that died or hangs ends the run with an error after this long). It must cover rank 0's
    /// validation passes, which the other ranks wait out in their next collective.
    pub timeout_s: f64,
    /// Gradients are all-reduced in buckets of about this many MB (DDP's default: 25); rank 0's
    /// state is broadcast at the start in buckets of the same size.
    pub bucket_mb: f64,
    /// The c10d backend: `auto` is NCCL on CUDA devices and Gloo on the CPU.
    pub backend: BackendChoice,
}

/// `distributed.backend`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendChoice {
    /// NCCL on CUDA, Gloo on the CPU.
    #[default]
    Auto,
    /// Gloo (CPU tensors; CUDA tensors through host copies, slowly).
    Gloo,
    /// NCCL (CUDA devices only).
    Nccl,
}

impl Default for DistributedSection {
    fn default() -> Self {
        Self { timeout_s: 1800.0, bucket_mb: 25.0, backend: BackendChoice::Auto }
    }
}

impl DistributedSection {
    /// The timeout as a duration.
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.timeout_s)
    }

    /// The bucket size in bytes.
    pub fn bucket_bytes(&self) -> usize {
        (self.bucket_mb * 1e6) as usize
    }

    pub(super) fn validate(&self, problems: &mut Problems) {
        problems.require(
            self.timeout_s.is_finite() && self.timeout_s >= 1.0,
            "distributed.timeout_s",
            "must be at least 1 second",
        );
        problems.require(
            self.bucket_mb.is_finite() && self.bucket_mb > 0.0,
            "distributed.bucket_mb",
            "must be a positive number of MB",
        );
    }
}

//! How a run ended: what `lgd train` reports, and what its exit status is made from.

use std::path::PathBuf;

use super::{Requeued, StartupPhase};

/// How a run ended.
#[derive(Debug)]
pub struct TrainSummary {
    /// Steps taken in total (including before a resume).
    pub steps: u64,
    /// The last checkpoint written.
    pub last_checkpoint: Option<PathBuf>,
    /// Whether a signal stopped the run before its planned end.
    pub stopped_by_signal: bool,
    /// Training images per second of this process (compute and data waits included).
    pub images_per_second: f64,
    /// Fraction of the loop spent waiting for data: near 1, data-bound; near 0, compute-bound.
    pub data_wait_fraction: f64,
    /// The checkpoint to resume already ended the schedule: nothing was trained.
    pub already_finished: bool,
    /// SIGTERM/SIGINT stopped start-up in this phase: nothing was trained.
    pub stopped_during_startup: Option<StartupPhase>,
    /// The stop was `run.requeue`'s time-limit warning, and this is what became of the job.
    pub requeued: Option<Requeued>,
}

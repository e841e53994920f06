//! `lgd train`: the long-running training daemon — start-up checks, the data pipeline feeding the
//! trainer, checkpoints on a cadence and on SIGUSR1, a clean stop with a final checkpoint on
//! SIGTERM/SIGINT, live config reload on SIGHUP, and with `run.requeue` a stop on a batch job's
//! time-limit warning that requeues the job.

mod any_teacher;
mod checkpoint_writer;
mod config_watch;
mod data_stages;
mod device_work;
mod interval_loss;
mod memory;
mod metrics;
mod nonfinite;
mod out_of_memory;
mod progress;
pub mod reload;
mod replica;
mod requeue;
mod resume_check;
mod run;
mod session;
mod session_guards;
mod session_records;
mod session_validation;
pub mod signals;
mod stage_clock;
mod startup;
mod startup_phase;
pub mod status;
mod student_stage;
mod summary;
mod topology;

pub use any_teacher::{guide_teacher, AnyTeacher};
pub use requeue::{RequeueError, Requeued};
pub use run::{train, TrainOptions};
pub use startup_phase::StartupPhase;
pub use summary::TrainSummary;

/// Why the daemon could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// A start-up check failed; the message names the file, folder or field.
    #[error("{0}")]
    Startup(String),
    /// Training could not go on (the last good checkpoint is on disk).
    #[error("{0}")]
    Training(String),
    /// The run's teacher-output cache could not be opened or written (it names its file).
    #[error(transparent)]
    TeacherCache(#[from] crate::teacher_cache::TeacherCacheError),
    /// SIGTERM/SIGINT arrived during start-up, which stopped at its next safe point: not a
    /// failure (`train` turns it into a summary and a `stopped` status).
    #[error("start-up stopped on request while {0}")]
    StoppedDuringStartup(StartupPhase),
    /// The run stopped and saved itself for a requeue, and the requeue failed.
    #[error(transparent)]
    Requeue(#[from] RequeueError),
}

impl DaemonError {
    /// A failed start-up check, its message naming the file, folder or field.
    pub(crate) fn startup(message: impl Into<String>) -> Self {
        Self::Startup(message.into())
    }
}

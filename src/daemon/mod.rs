//! `lgd train`: the long-running training daemon — start-up checks, the data pipeline feeding the
//! trainer, checkpoints on a cadence and on SIGUSR1, a clean stop with a final checkpoint on
//! SIGTERM/SIGINT, live config reload on SIGHUP, and with `run.requeue` a stop on a batch job's
//! time-limit warning that requeues the job.

mod any_teacher;
mod checkpoint_writer;
mod config_watch;
mod control;
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
pub mod signals;
mod stage_clock;
mod startup;
mod startup_error;
mod startup_phase;
pub mod status;
mod student_stage;
mod summary;
pub mod topology;

pub use any_teacher::{guide_teacher, AnyTeacher, TeacherError};
pub use checkpoint_writer::WriteError;
pub use data_stages::DataStagesError;
pub use requeue::{RequeueError, Requeued};
pub use run::{train, TrainOptions};
pub use session::NonFiniteStop;
pub use startup_error::StartupError;
pub use startup_phase::StartupPhase;
pub use summary::TrainSummary;

impl From<StartupError> for DaemonError {
    /// Boxed: start-up errors are many and large, and a `Result` carries the largest variant.
    fn from(error: StartupError) -> Self {
        Self::Startup(Box::new(error))
    }
}

/// Why the daemon could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// A start-up check failed; the error names the file, folder or field.
    #[error(transparent)]
    Startup(Box<StartupError>),
    /// The data stages could not start (or restart) where the trainer stands.
    #[error(transparent)]
    DataStages(#[from] DataStagesError),
    /// The data pipeline died (its error names the stage or file).
    #[error("data pipeline: {0}")]
    DataPipeline(#[from] lgd_actors::data_pipeline::PipelineError),
    /// The data pipeline delivered nothing within the stall timeout.
    #[error("data pipeline stalled: no batch for {:.1} s (guards.stall_timeout_s); {culprit}", waited.as_secs_f64())]
    DataStalled {
        /// How long it was waited for (running time).
        waited: std::time::Duration,
        /// The worker and the file it is stuck on, or that none is busy.
        culprit: String,
    },
    /// The device stage prepared nothing within the stall timeout.
    #[error(
        "the device stage (upload, photometric, teacher) prepared nothing for {:.0} s (guards.stall_timeout_s)",
        waited.as_secs_f64()
    )]
    DeviceStageStalled {
        /// How long it was waited for (running time).
        waited: std::time::Duration,
    },
    /// More training files failed to decode than `data.max_bad_fraction` allows.
    #[error(
        "{count} of {samples} training files could not be used, more than data.max_bad_fraction = {max_fraction} allows ({allowed}); they are listed in {}",
        list.display()
    )]
    TooManyBadSamples {
        /// Files that failed.
        count: usize,
        /// Files in the training data.
        samples: usize,
        /// `data.max_bad_fraction`.
        max_fraction: f64,
        /// What it allows.
        allowed: usize,
        /// `bad_samples.txt`.
        list: std::path::PathBuf,
    },
    /// The trainer failed outside a step (its state, a restore, a reload).
    #[error(transparent)]
    Trainer(#[from] crate::train::TrainerError),
    /// A collective across the replicas failed.
    #[error(transparent)]
    Distributed(#[from] crate::distributed::DistributedError),
    /// The state for the checkpoint at `step` could not be taken.
    #[error("checkpoint at step {step}: {source}")]
    CheckpointState {
        /// The step.
        step: u64,
        /// Why.
        #[source]
        source: Box<DaemonError>,
    },
    /// A checkpoint could not be written, under `guards.on_checkpoint_failure = "stop"`.
    #[error("checkpoint at step {step} failed, the previous one is intact ({previous}): {source}")]
    CheckpointWrite {
        /// The step.
        step: u64,
        /// The checkpoint that stands (or "none written yet").
        previous: String,
        /// Why the write failed.
        #[source]
        source: WriteError,
    },
    /// The checkpoint writer failed or stopped: no later checkpoint can be written.
    #[error("{0}; the previous checkpoint is intact")]
    CheckpointWriter(#[source] lgd_actors::actor_error::ActorError),
    /// A panic elsewhere left the teacher-output cache's lock poisoned.
    #[error("the teacher-output cache was poisoned by a panic")]
    TeacherCachePoisoned,
    /// Too many non-finite losses in a row (`guards.max_consecutive_nonfinite`).
    #[error(transparent)]
    NonFinite(#[from] NonFiniteStop),
    /// The run ran out of accelerator memory: the error, and what would need less.
    #[error("{error} -- out of memory: {advice}")]
    OutOfMemory {
        /// The error that said so.
        #[source]
        error: Box<DaemonError>,
        /// What to change.
        advice: String,
    },
    /// The run's teacher-output cache could not be opened or written (it names its file).
    #[error(transparent)]
    TeacherCache(#[from] crate::teacher_cache::TeacherCacheError),
    /// SIGTERM/SIGINT arrived during start-up, which stopped at its next safe point: not a
    /// failure (`train` turns it into a summary and a `stopped` status).
    #[error("start-up stopped on request while {0}")]
    StoppedDuringStartup(StartupPhase),
    /// An actor failed, panicked or stopped (the error names it).
    #[error(transparent)]
    Actor(#[from] lgd_actors::actor_error::ActorError),
    /// The OS refused an actor its thread.
    #[error("cannot start the {actor}'s thread: {source}")]
    Thread {
        /// The actor.
        actor: &'static str,
        /// The OS's refusal.
        #[source]
        source: std::io::Error,
    },
    /// A step did not end within its limit; the actor's thread is stuck in it.
    #[error(
        "{actor} stalled: step {step} has not finished after {:.1} s (guards.stall_timeout_s); its thread {thread} is stuck in it",
        limit.as_secs_f64()
    )]
    Stalled {
        /// The actor.
        actor: &'static str,
        /// Its thread's name.
        thread: &'static str,
        /// The step it is stuck in.
        step: u64,
        /// How long it was waited for (running time).
        limit: std::time::Duration,
    },
    /// An actor stuck in a step was asked for more.
    #[error("{actor} is stuck in step {step} and takes no more work")]
    Stuck {
        /// The actor.
        actor: &'static str,
        /// The step it is stuck in.
        step: u64,
    },
    /// The run stopped and saved itself for a requeue, and the requeue failed.
    #[error(transparent)]
    Requeue(#[from] RequeueError),
}

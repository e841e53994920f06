//! Why `lgd train` refused to start, by cause: each message names the file, folder or field at
//! fault, and keeps the underlying error as its source.

use std::path::PathBuf;

use lgd_actors::source::OpenSourceError;

use crate::checkpoint::CheckpointError;
use crate::config::{ConfigError, InputsHere};
use crate::distributed::DistributedError;
use crate::eval::EvalError;
use crate::status_server::StatusServerError;
use crate::train::TrainerError;

/// A start-up check that failed.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The config file.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The signal handlers could not be installed.
    #[error("installing signal handlers: {0}")]
    SignalHandlers(#[source] std::io::Error),
    /// `run.requeue`'s handler could not be installed.
    #[error("run.requeue: installing its handler: {0}")]
    RequeueHandler(#[source] std::io::Error),
    /// The configured device is not on this machine.
    #[error("{0}")]
    DeviceMissing(String),
    /// Inputs named in the config are missing or unusable here (what `lgd check-config` reports).
    #[error("{}", .0.all().join("; "))]
    Inputs(InputsHere),
    /// `--run-dir` names a file.
    #[error("run folder {} is a file, not a folder: name another --run-dir", .0.display())]
    RunDirIsFile(PathBuf),
    /// The run folder could not be created.
    #[error("run folder {}: {source}", path.display())]
    RunDir {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The run folder cannot be written.
    #[error("run folder {} is not writable: {source}", path.display())]
    RunDirNotWritable {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the run folder's lock.
    #[error("run folder {} is in use by another lgd train (pid {pid}); one run folder, one process", path.display())]
    RunDirInUse {
        /// The folder.
        path: PathBuf,
        /// The holder's pid, as its `pid` file says.
        pid: String,
    },
    /// A file of the run folder (its lock, `config.toml`).
    #[error("{}: {source}", path.display())]
    RunFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `data.train` could not be opened.
    #[error("data.train: {0}")]
    TrainingData(#[source] OpenSourceError),
    /// `data.train` has fewer images than one batch.
    #[error("data.train: {} has {images} images, fewer than one batch of {batch}", path.display())]
    FewerThanOneBatch {
        /// The folder or pack.
        path: PathBuf,
        /// Its images.
        images: usize,
        /// `data.batch_size`.
        batch: usize,
    },
    /// `data.val` could not be read.
    #[error(transparent)]
    Validation(#[from] EvalError),
    /// `checkpoint.resume = "never"` in a folder that has a checkpoint.
    #[error(
        "checkpoint.resume = \"never\" but {} exists: use another run folder or resume = \"auto\"",
        .0.display()
    )]
    ResumeNever(PathBuf),
    /// The checkpoint to resume from could not be read.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The checkpoint belongs to a run with other data or models, and `--accept-changes` was not given.
    #[error(
        "{}: this start differs from the run that wrote the checkpoint in its data or models ({}), so resuming \
         would not continue that run (the epoch's seeded order, its position or what the weights belong to \
         would change); restore those values, use another run folder, or start with `lgd train \
         --accept-changes` to go on under the new ones",
        path.display(),
        differences.join("; ")
    )]
    ResumeDiffers {
        /// The checkpoint.
        path: PathBuf,
        /// What differs, one entry each.
        differences: Vec<String>,
    },
    /// The teacher could not be loaded.
    #[error(transparent)]
    Teacher(#[from] super::any_teacher::TeacherError),
    /// The trainer could not be built.
    #[error(transparent)]
    Trainer(#[from] TrainerError),
    /// The trainer could not take the checkpoint's state.
    #[error("cannot resume: {0}")]
    Resume(#[source] TrainerError),
    /// The metrics files could not be opened.
    #[error(transparent)]
    Metrics(#[from] super::metrics::MetricsError),
    /// `status.addr`: the status server could not start.
    #[error("status.addr: {0}")]
    StatusServer(#[source] StatusServerError),
    /// The launcher's (or Slurm's) environment does not describe a group.
    #[error("distributed training: {0}")]
    Rendezvous(#[source] DistributedError),
    /// The process group could not be formed.
    #[error(transparent)]
    Group(DistributedError),
    /// The trainer could not join the group (rank 0's state).
    #[error("joining the group: {0}")]
    JoinGroup(#[source] TrainerError),
    /// The global batch does not divide over the ranks.
    #[error("data.batch_size = {global} is the global batch and must divide evenly over WORLD_SIZE = {world} ranks")]
    BatchOverRanks {
        /// `data.batch_size`.
        global: usize,
        /// Ranks.
        world: usize,
    },
    /// `teacher.cache_views` with several ranks.
    #[error(
        "teacher.cache_views: the teacher-output cache is for single-process runs; set it to 0 with several ranks"
    )]
    CacheWithRanks,
    /// `fault_injection.hold_startup` could not wait for a signal.
    #[error("fault injection: waiting for a signal: {0}")]
    HoldStartup(#[source] std::io::Error),
}

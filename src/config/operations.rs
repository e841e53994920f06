//! `[run]`, `[checkpoint]`, `[logging]` and `[validation]`: how a long run is kept and watched.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::device::DeviceSpec;
use super::problems::Problems;
use super::value_error::ValueError;

/// `[run]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunSection {
    /// A label for logs and metrics; the run folder's name when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Seeds every random stream (weights, banks, sampler, augmentation).
    pub seed: u64,
    /// `cpu`, `cuda` or `cuda:N`.
    pub device: DeviceSpec,
    /// Reload the config file when it changes on disk, as if SIGHUP had been sent.
    pub watch_config: bool,
    /// A batch job's time-limit warning (`#SBATCH --signal=USR1@90`): on `requeue_signal` the run
    /// checkpoints, stops, and under Slurm (`SLURM_JOB_ID` set) has rank 0 call `scontrol
    /// requeue`, so the job comes back and resumes instead of being killed at its limit.
    pub requeue: bool,
    /// The warning's signal (USR1 when not set); with `requeue` only, since it takes the signal
    /// over (USR1 otherwise checkpoints and goes on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requeue_signal: Option<RequeueSignal>,
}

impl Default for RunSection {
    fn default() -> Self {
        Self {
            name: None,
            seed: 0,
            device: DeviceSpec::Cuda(0),
            watch_config: false,
            requeue: false,
            requeue_signal: None,
        }
    }
}

impl RunSection {
    /// The signal that means "checkpoint and requeue", when `requeue` is on.
    pub fn requeue_on(&self) -> Option<RequeueSignal> {
        self.requeue.then(|| self.requeue_signal.unwrap_or(RequeueSignal::Usr1))
    }

    pub(super) fn validate(&self, problems: &mut Problems) {
        problems.require(
            self.requeue_signal.is_none() || self.requeue,
            "run.requeue_signal",
            "is set, but run.requeue is not: the signal would do nothing new (set run.requeue = true, or leave it out)",
        );
    }
}

/// The signals a time-limit warning may use: the others already mean something to `lgd train`
/// (TERM and INT stop it, HUP reloads its config), and Slurm itself sends TERM at the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum RequeueSignal {
    /// SIGUSR1 (`--signal=USR1@90`).
    Usr1,
    /// SIGUSR2 (`--signal=USR2@90`), which leaves SIGUSR1 its "checkpoint and go on".
    Usr2,
}

impl RequeueSignal {
    /// The signal's number.
    pub fn number(self) -> i32 {
        match self {
            Self::Usr1 => libc::SIGUSR1,
            Self::Usr2 => libc::SIGUSR2,
        }
    }
}

impl TryFrom<String> for RequeueSignal {
    type Error = ValueError;
    fn try_from(text: String) -> Result<Self, ValueError> {
        match text.trim().trim_start_matches("SIG") {
            "USR1" => Ok(Self::Usr1),
            "USR2" => Ok(Self::Usr2),
            _ => Err(ValueError::RequeueSignal(text)),
        }
    }
}

impl From<RequeueSignal> for String {
    fn from(signal: RequeueSignal) -> String {
        match signal {
            RequeueSignal::Usr1 => "USR1".into(),
            RequeueSignal::Usr2 => "USR2".into(),
        }
    }
}

/// Where training starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ResumePolicy {
    /// Always from scratch (a run folder with checkpoints is refused).
    Never,
    /// From the newest valid checkpoint in the run folder, if any.
    Auto,
    /// From this checkpoint file.
    File(PathBuf),
}

impl TryFrom<String> for ResumePolicy {
    type Error = ValueError;
    fn try_from(text: String) -> Result<Self, ValueError> {
        Ok(match text.as_str() {
            "never" => Self::Never,
            "auto" => Self::Auto,
            "" => return Err(ValueError::EmptyResume),
            _ => Self::File(PathBuf::from(text)),
        })
    }
}

impl From<ResumePolicy> for String {
    fn from(policy: ResumePolicy) -> String {
        match policy {
            ResumePolicy::Never => "never".into(),
            ResumePolicy::Auto => "auto".into(),
            ResumePolicy::File(path) => path.display().to_string(),
        }
    }
}

/// `[checkpoint]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckpointSection {
    /// Save at the end of every N epochs (0 = not by epoch).
    pub every_epochs: u32,
    /// Save every N steps as well (0 = not by step).
    pub every_steps: u64,
    /// How many recent checkpoints to keep.
    pub keep_last: usize,
    /// Also keep the one with the best validation zero-shot accuracy.
    pub keep_best: bool,
    /// Where training starts from.
    pub resume: ResumePolicy,
}

impl Default for CheckpointSection {
    fn default() -> Self {
        Self { every_epochs: 1, every_steps: 0, keep_last: 3, keep_best: true, resume: ResumePolicy::Auto }
    }
}

/// `[logging]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingSection {
    /// tracing level filter (`info`, `debug`, `lgd=debug,warn`, …).
    pub level: String,
    /// Steps between metric records (scalars are read back from the device only then); step 1
    /// and the run's last step are recorded as well. A record holds its step's losses and the
    /// mean loss of its interval.
    pub every_steps: u64,
    /// TensorBoard event files beside the JSONL metrics.
    pub tensorboard: bool,
}

impl Default for LoggingSection {
    fn default() -> Self {
        Self { level: "info".into(), every_steps: 20, tensorboard: true }
    }
}

/// `[validation]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ValidationSection {
    /// Validate every N epochs (0 = not by epoch).
    pub every_epochs: u32,
    /// Validate every N steps as well (0 = not by step).
    pub every_steps: u64,
    /// Validate on at most this many images of the val split (0 = all), evenly spaced over its order.
    pub max_images: usize,
}

impl Default for ValidationSection {
    fn default() -> Self {
        Self { every_epochs: 1, every_steps: 0, max_images: 0 }
    }
}

impl CheckpointSection {
    pub(super) fn validate(&self, problems: &mut Problems) {
        problems.require(self.keep_last >= 1, "checkpoint.keep_last", "must be >= 1");
    }
}

impl LoggingSection {
    pub(super) fn validate(&self, problems: &mut Problems) {
        problems.require(self.every_steps >= 1, "logging.every_steps", "must be >= 1");
        if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&self.level) {
            problems.require(false, "logging.level", format!("`{}` is not a level filter: {e}", self.level));
        }
    }
}

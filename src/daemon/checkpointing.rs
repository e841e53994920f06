//! Writing checkpoints from the training loop: the atomic write, retention, and what a failed write
//! (a full disk) means for the run — the previous checkpoint always stays intact; the run goes on
//! or stops as `guards.on_checkpoint_failure` says.

use std::path::{Path, PathBuf};

use super::{AnyTeacher, DaemonError};
use crate::checkpoint::{checkpoint_path, prune, TrainingState};
use crate::config::{CheckpointFailurePolicy, Config};
use crate::train::Trainer;

/// Writes the trainer's checkpoints into a run folder.
#[derive(Debug)]
pub(super) struct Checkpointer {
    run_dir: PathBuf,
    /// Step of the last successful write (none yet: `None`).
    pub saved_at: Option<u64>,
    /// The newest checkpoint written by this process.
    pub last: Option<PathBuf>,
    /// Writes that failed so far.
    pub failures: u64,
}

impl Checkpointer {
    pub(super) fn new(run_dir: &Path, resumed_at: u64) -> Self {
        Self { run_dir: run_dir.to_owned(), saved_at: Some(resumed_at), last: None, failures: 0 }
    }

    /// Saves the trainer's state now, unless this step is already on disk.
    pub(super) fn save(&mut self, trainer: &Trainer<AnyTeacher>, config: &Config) -> Result<(), DaemonError> {
        if self.saved_at == Some(trainer.step) {
            return Ok(());
        }
        self.write(trainer.state(), config)
    }

    /// Writes `state` (which may be rewound, e.g. to before a streak of bad steps).
    pub(super) fn write(&mut self, state: TrainingState, config: &Config) -> Result<(), DaemonError> {
        let step = state.step;
        let path = checkpoint_path(&self.run_dir, step);
        let result = if config.fault_injection.fail_checkpoint_steps.contains(&step) {
            Err(format!("{}: no space left on device (injected by fault_injection.fail_checkpoint_steps)", path.display()))
        } else {
            state.save(&path).map_err(|e| e.to_string())
        };
        match result {
            Ok(()) => {
                if let Err(e) = prune(&self.run_dir, config.checkpoint.keep_last) {
                    tracing::warn!("could not prune old checkpoints: {e}");
                }
                tracing::info!(step, path = %path.display(), "checkpoint written");
                self.saved_at = Some(step);
                self.last = Some(path);
                Ok(())
            }
            Err(error) => {
                self.failures += 1;
                let previous = self.last.as_ref().map_or_else(|| "none written yet".to_owned(), |p| p.display().to_string());
                let message = format!("checkpoint at step {step} failed, the previous one is intact ({previous}): {error}");
                match config.guards.on_checkpoint_failure {
                    CheckpointFailurePolicy::Continue => {
                        tracing::error!("{message}; training goes on (guards.on_checkpoint_failure = \"continue\")");
                        Ok(())
                    }
                    CheckpointFailurePolicy::Stop => Err(DaemonError::Training(message)),
                }
            }
        }
    }
}

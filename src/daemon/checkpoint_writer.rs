//! Writing checkpoints from the training loop, off its hot path: the loop copies the state to host
//! memory at the step boundary (the weights of that step, whatever training does next) and the
//! writer — a kameo actor on a thread of its own (`lgd_actors::stage_actor`) — serialises,
//! checksums, fsyncs, renames and prunes while training goes on. What a failed write (a full disk)
//! means for the run: the previous checkpoint always stays intact; the run goes on or stops as
//! `guards.on_checkpoint_failure` says, as soon as the loop learns of it.
//! With `checkpoint.keep_best`, a validation that beats every earlier one (student zero-shot top-1
//! where the bank is the dataset's classes, else teacher agreement) is also written to
//! `checkpoints/best.safetensors`, with `best.json` saying which step and score; `keep_last`
//! never prunes it and `resume = "auto"` never picks it.

use std::path::{Path, PathBuf};

use crossbeam_channel::Receiver;
use lgd_actors::actor_error::ActorError;
use lgd_actors::checkpoint_writer::{self, CheckpointStore, CheckpointWriterRef, Writing};
use lgd_actors::stage_actor::StageOutput;
use serde::{Deserialize, Serialize};

use super::student_stage::StudentStage;
use super::DaemonError;
use crate::checkpoint::{checkpoint_path, prune, DataShape, TrainingState};
use crate::config::{CheckpointFailurePolicy, Config};
use crate::eval::Validation;

/// A validation score that earned a best checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(super) struct BestScore {
    /// `student_top1` or `agreement`.
    pub metric: &'static str,
    /// Its value, higher is better.
    pub value: f64,
    /// The step validated.
    pub step: u64,
}

impl BestScore {
    /// The score of a validation at `step`: student zero-shot top-1 where the bank is the
    /// dataset's classes, else teacher agreement.
    pub(super) fn of(validation: &Validation, step: u64) -> Self {
        match validation.student_top1 {
            Some(top1) => Self { metric: "student_top1", value: top1, step },
            None => Self { metric: "agreement", value: validation.agreement, step },
        }
    }
}

/// Which file a request writes.
enum Target {
    /// `step-N.safetensors`, then retention keeps the newest `keep_last`.
    Step { keep_last: usize },
    /// `best.safetensors` and `best.json`.
    Best(BestScore),
}

/// One checkpoint for the writer.
pub(super) struct WriteRequest {
    state: TrainingState,
    path: PathBuf,
    target: Target,
    /// `fault_injection.fail_checkpoint_steps`: fail as a full disk would.
    inject_failure: bool,
}

/// What became of a request.
pub(super) struct WriteOutcome {
    step: u64,
    path: PathBuf,
    best: bool,
    result: Result<(), WriteError>,
}

/// Why a checkpoint was not written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The checkpoint file could not be written (the error names it).
    #[error(transparent)]
    Save(#[from] crate::checkpoint::CheckpointError),
    /// A failure injected on purpose (`fault_injection.fail_checkpoint_steps`).
    #[error("{}: no space left on device (injected by fault_injection.fail_checkpoint_steps)", .0.display())]
    Injected(PathBuf),
    /// `best.json` could not be written beside the best checkpoint.
    #[error("{}: {source}", path.display())]
    BestRecord {
        /// `best.json`.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Writes the trainer's checkpoints into a run folder.
#[derive(Debug)]
pub(super) struct Checkpointer {
    run_dir: PathBuf,
    /// Step of the last successful write (none yet: `None`).
    pub saved_at: Option<u64>,
    /// Step of the last write queued (and not failed): a second request for it is a no-op.
    queued_at: Option<u64>,
    /// The newest checkpoint written by this process.
    pub last: Option<PathBuf>,
    /// Writes that failed so far.
    pub failures: u64,
    /// A write failed under `on_checkpoint_failure = "stop"`: the run ends without another write.
    pub stopped: bool,
    /// The best validation so far (from `best.json` when resuming).
    best: Option<BestScore>,
    /// Requests sent and not yet answered.
    in_flight: usize,
    /// The training data, stamped into every checkpoint: a resume checks it.
    data: DataShape,
    writer: Option<CheckpointWriterRef<CheckpointWriter>>,
    outcomes: Receiver<StageOutput<Writing<CheckpointWriter>>>,
}

/// The writer actor's work: one request, written and pruned.
pub(super) struct CheckpointWriter;

impl CheckpointStore for CheckpointWriter {
    type Request = WriteRequest;
    type Outcome = WriteOutcome;

    fn write(&mut self, request: WriteRequest) -> WriteOutcome {
        write(request)
    }
}

impl Checkpointer {
    /// The loop's side of the started `writer`, whose `outcomes` the loop drains once per step.
    pub(super) fn new(
        run_dir: &Path,
        resumed_at: u64,
        (writer, outcomes): (CheckpointWriterRef<CheckpointWriter>, Receiver<StageOutput<Writing<CheckpointWriter>>>),
        data: DataShape,
    ) -> Self {
        let best = read_best(run_dir);
        Self {
            run_dir: run_dir.to_owned(),
            best,
            saved_at: Some(resumed_at),
            queued_at: Some(resumed_at),
            last: None,
            failures: 0,
            stopped: false,
            in_flight: 0,
            data,
            writer: Some(writer),
            outcomes,
        }
    }

    /// Queues the trainer's state now, unless this step is already written or queued.
    pub(super) fn save(&mut self, student: &StudentStage, config: &Config) -> Result<(), DaemonError> {
        let step = student.step_count();
        if self.queued_at == Some(step) {
            return Ok(());
        }
        let keep_last = config.checkpoint.keep_last;
        let state = student
            .call(|trainer| trainer.state())
            .and_then(|state| Ok(state?))
            .map_err(|source| DaemonError::CheckpointState { step, source: Box::new(source) })?;
        self.queue(state, Target::Step { keep_last }, config)?;
        self.collect(config)
    }

    /// Whether a validation's `score` beats every earlier one (ties keep the earlier).
    pub(super) fn beats_best(&self, score: &BestScore) -> bool {
        self.best.is_none_or(|best| best.metric != score.metric || score.value > best.value)
    }

    /// Queues `state` as the best checkpoint, `score` as the one to beat from now on.
    pub(super) fn save_best(
        &mut self,
        state: TrainingState,
        score: BestScore,
        config: &Config,
    ) -> Result<(), DaemonError> {
        self.best = Some(score);
        self.queue(state, Target::Best(score), config)
    }

    /// Queues `state` (which may be rewound, e.g. to before a streak of bad steps) and waits until
    /// it and every write before it are done.
    pub(super) fn write_now(&mut self, state: TrainingState, config: &Config) -> Result<(), DaemonError> {
        let keep_last = config.checkpoint.keep_last;
        self.queue(state, Target::Step { keep_last }, config)?;
        self.wait(config)
    }

    fn queue(&mut self, mut state: TrainingState, target: Target, config: &Config) -> Result<(), DaemonError> {
        state.data = Some(self.data);
        let step = state.step;
        let path = match target {
            Target::Step { .. } => checkpoint_path(&self.run_dir, step),
            Target::Best(_) => best_path(&self.run_dir),
        };
        if matches!(target, Target::Step { .. }) {
            self.queued_at = Some(step);
        }
        let inject_failure = config.fault_injection.checkpoint_write_fails(step);
        let request = WriteRequest { state: state.host_copy(), path, target, inject_failure };
        if self.writer.as_ref().is_none_or(|writer| writer.submit(request).is_err()) {
            return Err(DaemonError::CheckpointWriter(ActorError::Stopped { actor: checkpoint_writer::NAME.0 }));
        }
        self.in_flight += 1;
        Ok(())
    }

    /// Applies the outcomes of finished writes without waiting (once per step).
    pub(super) fn collect(&mut self, config: &Config) -> Result<(), DaemonError> {
        let mut result = Ok(());
        while let Ok(outcome) = self.outcomes.try_recv() {
            result = result.and(self.apply(outcome, config));
        }
        result
    }

    /// Waits until every queued write is done and applies the outcomes.
    pub(super) fn wait(&mut self, config: &Config) -> Result<(), DaemonError> {
        let mut result = Ok(());
        while self.in_flight > 0 {
            match self.outcomes.recv() {
                Ok(outcome) => result = result.and(self.apply(outcome, config)),
                Err(_) => {
                    return Err(DaemonError::CheckpointWriter(ActorError::Stopped { actor: checkpoint_writer::NAME.0 }))
                }
            }
        }
        result
    }

    fn apply(&mut self, outcome: StageOutput<Writing<CheckpointWriter>>, config: &Config) -> Result<(), DaemonError> {
        self.in_flight -= 1;
        let WriteOutcome { step, path, best, result } = match outcome {
            Ok(outcome) => outcome,
            Err(failure) => {
                // The writer is gone: no later checkpoint can be written either.
                self.stopped = true;
                return Err(DaemonError::CheckpointWriter(failure));
            }
        };
        match result {
            Ok(()) if best => {
                tracing::info!(step, path = %path.display(), "best checkpoint written");
                Ok(())
            }
            Ok(()) => {
                tracing::info!(step, path = %path.display(), "checkpoint written");
                self.saved_at = Some(step);
                self.last = Some(path);
                Ok(())
            }
            Err(error) => {
                self.failures += 1;
                if !best && self.queued_at == Some(step) {
                    self.queued_at = self.saved_at; // a later request for this step tries again
                }
                let previous =
                    self.last.as_ref().map_or_else(|| "none written yet".to_owned(), |p| p.display().to_string());
                let failure = DaemonError::CheckpointWrite { step, previous, source: error };
                match config.guards.on_checkpoint_failure {
                    CheckpointFailurePolicy::Continue => {
                        tracing::error!("{failure}; training goes on (guards.on_checkpoint_failure = \"continue\")");
                        Ok(())
                    }
                    CheckpointFailurePolicy::Stop => {
                        self.stopped = true;
                        Err(failure)
                    }
                }
            }
        }
    }
}

impl Drop for Checkpointer {
    /// Lets the writer finish what was queued (a file half written would only be a temporary
    /// file, but a queued checkpoint is still worth having) and joins it.
    fn drop(&mut self) {
        if let Some(writer) = self.writer.take() {
            writer.finish();
        }
    }
}

/// The writer's work for one request: the atomic write, then retention.
fn write(request: WriteRequest) -> WriteOutcome {
    let WriteRequest { state, path, target, inject_failure } = request;
    let step = state.step;
    let mut result = if inject_failure {
        Err(WriteError::Injected(path.clone()))
    } else {
        state.save(&path).map_err(WriteError::from)
    };
    let folder = path.parent().unwrap_or(Path::new("."));
    match (&target, &result) {
        (Target::Step { keep_last }, Ok(())) => {
            if let Err(e) = prune(folder.parent().unwrap_or(Path::new(".")), *keep_last) {
                tracing::warn!("could not prune old checkpoints: {e}");
            }
        }
        (Target::Best(score), Ok(())) => result = write_best_record(folder, score),
        (_, Err(_)) => {}
    }
    WriteOutcome { step, path, best: matches!(target, Target::Best(_)), result }
}

/// `checkpoints/best.safetensors` of a run folder.
fn best_path(run_dir: &Path) -> PathBuf {
    run_dir.join("checkpoints").join("best.safetensors")
}

/// `best.json` beside it, replaced atomically once the checkpoint is in place.
fn write_best_record(folder: &Path, score: &BestScore) -> Result<(), WriteError> {
    let path = folder.join("best.json");
    let temporary = folder.join("best.json.tmp");
    let text = serde_json::to_string_pretty(score).map_err(std::io::Error::other);
    text.and_then(|text| std::fs::write(&temporary, text + "\n"))
        .and_then(|()| std::fs::rename(&temporary, &path))
        .map_err(|source| WriteError::BestRecord { path, source })
}

/// The best score recorded in a run folder, if any (an unreadable record is a fresh start).
fn read_best(run_dir: &Path) -> Option<BestScore> {
    let path = run_dir.join("checkpoints").join("best.json");
    let text = std::fs::read_to_string(&path).ok()?;
    #[derive(Deserialize)]
    struct Record {
        metric: String,
        value: f64,
        step: u64,
    }
    match serde_json::from_str::<Record>(&text) {
        Ok(record) => {
            let metric = if record.metric == "student_top1" { "student_top1" } else { "agreement" };
            Some(BestScore { metric, value: record.value, step: record.step })
        }
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "unreadable best-checkpoint record: the next validation starts it afresh");
            None
        }
    }
}

#[cfg(test)]
mod tests;

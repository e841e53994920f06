//! The training loop proper: one `Session` holds everything a running job owns and steps it
//! until a planned end, a stop request, a guard or an error, then writes the final checkpoint,
//! status and summary.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lgd_actors::source::SampleSource;
use tch::Device;

use super::checkpoint_writer::Checkpointer;
use super::control::Control;
use super::data_stages::{DataStages, Prepared};
use super::interval_loss::IntervalLoss;
use super::metrics::MetricsSink;
use super::nonfinite::NonFiniteGuard;
use super::progress::Progress;
use super::reload::{reload, ReloadOutcome};
use super::stage_clock::StageClock;
use super::status::{config_digest, StatusBoard};
use super::student_stage::{PreparedStep, StudentStage};
use super::DaemonError;
use crate::config::Config;
use crate::eval::ValidationSet;
use crate::teacher_cache::replay::TeacherReplay;
use crate::train::StepReport;
pub use guards::NonFiniteStop;

mod finish;
mod guards;
mod records;
mod validation;

/// How long a stuck pipeline thread may delay the exit before it is left behind.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Everything the loop works with, so its parts can be methods instead of one long function.
pub(super) struct Session<'a> {
    run_dir: &'a Path,
    config: Config,
    /// The trainer, on the student optimisation stage's thread.
    student: StudentStage,
    source: Arc<dyn SampleSource>,
    /// The data pipeline and the device stage behind it.
    data: DataStages,
    validation: Option<ValidationSet>,
    classes: usize,
    device: Device,
    /// `teacher.cache_views > 0`: the run's teacher-output cache (the device stage reads and
    /// fills it; the loop flushes it with each checkpoint) and its (hits, misses) in batches.
    teacher_replay: Option<(Arc<Mutex<TeacherReplay>>, u64, u64)>,
    /// What the loop is asked at each step boundary.
    control: Control<'a>,
    metrics: MetricsSink,
    board: StatusBoard,
    progress: Progress,
    clock: StageClock,
    checkpoints: Checkpointer,
    nonfinite: NonFiniteGuard,
    interval_loss: IntervalLoss,
    /// The last step taken, with its epoch, while it falls between two log intervals.
    unrecorded: Option<(StepReport, u64)>,
    reported_bad: std::collections::HashSet<PathBuf>,
    started_at_step: u64,
    /// The run's planned last step, logged whatever the interval.
    total_steps: u64,
    persisted_at: Instant,
    /// Rank 0 or a lone process: writes the checkpoints (other ranks hold the same state).
    leads: bool,
}

/// What start-up hands the loop.
pub(super) struct SessionParts<'a> {
    pub run_dir: &'a Path,
    pub config: Config,
    pub student: StudentStage,
    pub source: Arc<dyn SampleSource>,
    pub data: DataStages,
    pub validation: Option<ValidationSet>,
    pub classes: usize,
    pub device: Device,
    pub teacher_replay: Option<Arc<Mutex<TeacherReplay>>>,
    pub control: Control<'a>,
    pub metrics: MetricsSink,
    pub board: StatusBoard,
    pub checkpoints: Checkpointer,
    pub total_steps: u64,
    pub leads: bool,
}

impl<'a> Session<'a> {
    /// The loop over `parts`, from the step the trainer stands at.
    pub(super) fn new(parts: SessionParts<'a>) -> Self {
        let started_at_step = parts.student.step_count();
        Self {
            progress: Progress::new(parts.total_steps, started_at_step),
            teacher_replay: parts.teacher_replay.map(|replay| (replay, 0, 0)),
            run_dir: parts.run_dir,
            config: parts.config,
            student: parts.student,
            source: parts.source,
            data: parts.data,
            validation: parts.validation,
            classes: parts.classes,
            device: parts.device,
            control: parts.control,
            metrics: parts.metrics,
            board: parts.board,
            checkpoints: parts.checkpoints,
            total_steps: parts.total_steps,
            leads: parts.leads,
            started_at_step,
            clock: StageClock::start(),
            nonfinite: NonFiniteGuard::default(),
            interval_loss: IntervalLoss::default(),
            unrecorded: None,
            reported_bad: Default::default(),
            persisted_at: Instant::now(),
        }
    }
}

/// Why the loop ended (errors aside).
pub(super) enum Ending {
    Planned,
    Requested,
    /// A guard stopped the run after writing its own checkpoint.
    Guarded(NonFiniteStop),
}

impl Session<'_> {
    pub(super) fn run(&mut self) -> Result<Ending, DaemonError> {
        if self.student.step_count() == 0 {
            self.validate();
        }
        loop {
            let first_step_taken = self.student.step_count() > self.started_at_step;
            let requests = self.control.at_boundary(&self.student, first_step_taken)?;
            if requests.reload {
                self.reload();
            }
            if requests.stop {
                self.record_unrecorded()?;
                return self.settled_ending(Ending::Requested);
            }
            if requests.checkpoint {
                self.checkpoint()?;
            }
            let stall_timeout = Duration::from_secs_f64(self.config.guards.stall_timeout_s);
            let batch = match self.data.next(stall_timeout, &mut self.clock) {
                Prepared::Done => return self.settled_ending(Ending::Planned),
                Prepared::Stalled => return Err(self.stalled(stall_timeout)),
                Prepared::Failed(error) => return Err(error),
                Prepared::Batch(batch) => batch,
            };
            self.note_bad_samples(&batch.bad)?;
            if let (Some((_, hits, misses)), Some(replayed)) = (&mut self.teacher_replay, batch.replayed) {
                *if replayed { hits } else { misses } += 1;
            }
            let compute_start = Instant::now();
            let before = self.student.position();
            let prepared = PreparedStep { images: batch.images, keys: batch.keys, ready: batch.ready };
            let report = self.student.step(prepared, stall_timeout)?;
            let step = self.student.step_count();
            let log_now = step.is_multiple_of(self.config.logging.every_steps) || step == 1 || step == self.total_steps;
            // Verdicts are read with the losses, at log intervals: a step never waits for the GPU.
            let due = self.nonfinite.keep(before, report.nonfinite.shallow_clone());
            self.interval_loss.add(&report.loss);
            let guard_tripped = if log_now || due { self.settle_verdicts() } else { None };
            if log_now {
                self.record_step(report, batch.epoch, compute_start)?;
            } else {
                self.clock.computing += compute_start.elapsed();
                self.unrecorded = Some((report, batch.epoch));
            }
            if let Some(streak) = guard_tripped {
                return self.stop_nonfinite(streak);
            }
            self.collect_checkpoints()?;
            let (step, epoch, epoch_done) =
                (self.student.step_count(), self.student.epoch(), self.student.step_in_epoch() == 0);
            let v = &self.config.validation;
            if (v.every_steps > 0 && step % v.every_steps == 0)
                || (epoch_done && v.every_epochs > 0 && epoch % v.every_epochs as u64 == 0)
            {
                self.validate();
            }
            let c = &self.config.checkpoint;
            if (c.every_steps > 0 && step % c.every_steps == 0)
                || (epoch_done && c.every_epochs > 0 && epoch % c.every_epochs as u64 == 0)
            {
                self.checkpoint()?;
            }
        }
    }

    fn checkpoint(&mut self) -> Result<(), DaemonError> {
        if !self.leads {
            return Ok(());
        }
        let start = Instant::now();
        if let Some((replay, _, _)) = &self.teacher_replay {
            replay.lock().map_err(|_| DaemonError::TeacherCachePoisoned)?.flush()?;
        }
        let result = self.checkpoints.save(&self.student, &self.config);
        self.clock.checkpointing += start.elapsed();
        if let Some(last) = self.checkpoints.last.clone() {
            self.board.update(|s| s.last_checkpoint = Some(last));
        }
        result
    }

    /// Takes in the checkpoint writer's finished writes (a failure under the `stop` policy ends
    /// the run here).
    fn collect_checkpoints(&mut self) -> Result<(), DaemonError> {
        let before = self.checkpoints.last.clone();
        let result = self.checkpoints.collect(&self.config);
        if self.checkpoints.last != before {
            let last = self.checkpoints.last.clone();
            self.board.update(|s| s.last_checkpoint = last);
        }
        result
    }

    fn reload(&mut self) {
        match reload(self.control.config_path(), &self.config) {
            ReloadOutcome::Applied(new, diff) => {
                let mut new = *new;
                tracing::info!(changes = %diff.join("; "), "config reloaded");
                let reloaded = new.clone();
                match self.student.call(move |trainer| trainer.apply_reloadable(&reloaded)) {
                    Ok(Ok(())) => {}
                    // Only a dead stage refuses; the next step reports it as the run's end.
                    Ok(Err(error)) => tracing::error!("applying the reloaded config: {error}"),
                    Err(error) => tracing::error!("applying the reloaded config: {error}"),
                }
                if new.pipeline != self.config.pipeline {
                    // New capacities or workers: both stages start again where the trainer stands.
                    let position = (self.student.epoch(), self.student.step_in_epoch());
                    if let Err(error) = self.data.restart(&new, position, SHUTDOWN_GRACE) {
                        tracing::error!(
                            "restarting the data stages for the new [pipeline] failed, old [pipeline] kept: {error}"
                        );
                        new.pipeline = self.config.pipeline.clone();
                    }
                }
                let digest = config_digest(&new.to_toml());
                self.board.update(|s| {
                    (s.config_digest, s.message) = (digest, Some(format!("config reloaded: {}", diff.join("; "))))
                });
                self.config = new;
            }
            ReloadOutcome::Unchanged => tracing::info!("config reloaded: no change"),
            ReloadOutcome::Refused(fields) => {
                let message =
                    format!("reload refused: {} cannot change while training; old config kept", fields.join(", "));
                tracing::warn!(fields = %fields.join(", "), "{message}");
                self.board.update(|s| s.message = Some(message));
            }
            ReloadOutcome::Invalid(error) => {
                tracing::error!("reload failed, old config kept: {error}");
                self.board.update(|s| s.message = Some(format!("reload failed, old config kept: {error}")));
            }
        }
    }

    fn note_bad_samples(&mut self, bad: &[(PathBuf, String)]) -> Result<(), DaemonError> {
        for (path, reason) in bad {
            if self.reported_bad.insert(path.clone()) {
                tracing::warn!("bad sample replaced: {reason}");
                self.metrics.bad_sample(path, reason);
            }
        }
        let (count, samples) = (self.reported_bad.len(), self.source.len());
        self.board.update(|s| s.bad_samples = count);
        let allowed = self.config.data.bad_files_allowed(samples);
        if count > allowed {
            return Err(DaemonError::TooManyBadSamples {
                count,
                samples,
                max_fraction: self.config.data.max_bad_fraction,
                allowed,
                list: self.run_dir.join("bad_samples.txt"),
            });
        }
        Ok(())
    }

    /// TensorBoard scalars; a failure is logged by the metrics writer and does not stop training.
    fn write_scalars(&mut self, step: u64, scalars: &[(&str, f64)]) {
        self.metrics.scalars(step, scalars);
    }
}

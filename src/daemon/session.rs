//! The training loop proper: one `Session` holds everything a running job owns and steps it
//! until a planned end, a stop request, a guard or an error, then writes the final checkpoint,
//! status and summary.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lgd_actors::source::SampleSource;
use tch::Device;

use super::checkpoint_writer::Checkpointer;
use super::config_watch::ConfigWatch;
use super::data_stages::{DataStages, Prepared};
use super::interval_loss::IntervalLoss;
use super::metrics::MetricsSink;
use super::nonfinite::NonFiniteGuard;
use super::out_of_memory::with_memory_hint;
use super::progress::Progress;
use super::reload::{reload, ReloadOutcome};
use super::session_guards::NonFiniteStop;
use super::signals::Signals;
use super::stage_clock::StageClock;
use super::status::{config_digest, RunState, StatusBoard};
use super::student_stage::{PreparedStep, StudentStage};
use super::summary::TrainSummary;
use super::DaemonError;
use crate::config::Config;
use crate::eval::ValidationSet;
use crate::teacher_cache::replay::TeacherReplay;
use crate::train::StepReport;

/// How long a stuck pipeline thread may delay the exit before it is left behind.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Everything the loop works with, so its parts can be methods instead of one long function.
pub(super) struct Session<'a> {
    pub(super) config_path: &'a Path,
    pub(super) run_dir: &'a Path,
    pub(super) config: Config,
    /// The trainer, on the student optimisation stage's thread.
    pub(super) student: StudentStage,
    pub(super) source: Arc<dyn SampleSource>,
    /// The data pipeline and the device stage behind it.
    pub(super) data: DataStages,
    pub(super) validation: Option<ValidationSet>,
    pub(super) classes: usize,
    pub(super) device: Device,
    /// `teacher.cache_views > 0`: the run's teacher-output cache (the device stage reads and
    /// fills it; the loop flushes it with each checkpoint) and its (hits, misses) in batches.
    pub(super) teacher_replay: Option<(Arc<Mutex<TeacherReplay>>, u64, u64)>,
    pub(super) signals: Signals,
    pub(super) metrics: MetricsSink,
    pub(super) board: StatusBoard,
    pub(super) progress: Progress,
    pub(super) clock: StageClock,
    pub(super) checkpoints: Checkpointer,
    pub(super) nonfinite: NonFiniteGuard,
    pub(super) interval_loss: IntervalLoss,
    /// The last step taken, with its epoch, while it falls between two log intervals.
    pub(super) unrecorded: Option<(StepReport, u64)>,
    pub(super) reported_bad: std::collections::HashSet<PathBuf>,
    pub(super) started_at_step: u64,
    /// The run's planned last step, logged whatever the interval.
    pub(super) total_steps: u64,
    pub(super) persisted_at: Instant,
    /// Set when `run.watch_config` is on.
    pub(super) watch: Option<ConfigWatch>,
    /// Rank 0 or a lone process: writes the checkpoints (other ranks hold the same state).
    pub(super) leads: bool,
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
        // SIGUSR1 before the first step (during start-up, say): this process has nothing new to
        // save yet, so the checkpoint is written at the first step boundary instead.
        let mut deferred_checkpoint = false;
        loop {
            let mut requests = self.signals.take();
            let file_changed = self.watch.as_mut().is_some_and(|w| w.changed());
            if file_changed {
                tracing::info!(file = %self.config_path.display(), "config file changed on disk (run.watch_config)");
            }
            requests.reload |= file_changed;
            if self.student.is_replica() {
                // What any rank was asked, every rank does, at this same step boundary.
                let asked = [requests.stop, requests.checkpoint, requests.reload, requests.requeue];
                let agreed = self
                    .student
                    .call(move |trainer| trainer.data_parallel().map(|group| group.any_of(&asked)))?
                    .expect("a replica has its group")?;
                (requests.stop, requests.checkpoint, requests.reload) = (agreed[0], agreed[1], agreed[2]);
                if agreed[3] && !requests.requeue {
                    self.signals.agree_requeue(); // another rank got the time-limit warning
                }
            }
            if requests.reload {
                self.reload();
            }
            let first_step_taken = self.student.step_count() > self.started_at_step;
            if requests.checkpoint && !first_step_taken && !deferred_checkpoint {
                tracing::info!("checkpoint asked for before the first step: it is written at the first step boundary");
            }
            deferred_checkpoint |= requests.checkpoint && !first_step_taken;
            requests.checkpoint = (requests.checkpoint || deferred_checkpoint) && first_step_taken;
            deferred_checkpoint &= !first_step_taken;
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
        match reload(self.config_path, &self.config) {
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

    pub(super) fn images_per_second(&self) -> f64 {
        let batch = self.config.data.batch_size;
        ((self.student.step_count() - self.started_at_step) as usize * batch) as f64
            / self.clock.training_time().as_secs_f64().max(1e-9)
    }

    /// Time bank maintenance spent working (zero once the student stage is gone).
    pub(super) fn bank_busy(&self) -> Duration {
        self.student.call(|trainer| trainer.bank_busy()).unwrap_or_default()
    }

    /// SHA-256 of the visual bank after the last step, or why there is none.
    fn bank_digest(&self) -> String {
        match self.student.call(|trainer| trainer.visual_bank().map(|bank| bank.digest())) {
            Ok(Ok(digest)) => digest,
            Ok(Err(error)) => error.to_string(),
            Err(error) => error.to_string(),
        }
    }

    /// SHA-256 of the student's variables (names in order, then values): every rank of a group
    /// must end with the same, and the last log line carries it so that they can be compared.
    fn weights_digest(&self) -> String {
        let digest = |trainer: &mut crate::train::Trainer<super::AnyTeacher>| {
            use sha2::{Digest, Sha256};
            let mut variables: Vec<_> = trainer.vars().variables().into_iter().collect();
            variables.sort_by(|a, b| a.0.cmp(&b.0));
            let mut hasher = Sha256::new();
            for (name, tensor) in variables {
                let flat = tensor.to_device(Device::Cpu).to_kind(tch::Kind::Float).contiguous().view([-1]);
                hasher.update(name.as_bytes());
                Vec::<f32>::try_from(&flat)
                    .expect("float variables")
                    .iter()
                    .for_each(|v| hasher.update(v.to_le_bytes()));
            }
            hasher.finalize().iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        self.student.call(digest).unwrap_or_else(|error| error.to_string())
    }

    /// TensorBoard scalars; a failure is logged by the metrics writer and does not stop training.
    pub(super) fn write_scalars(&mut self, step: u64, scalars: &[(&str, f64)]) {
        self.metrics.scalars(step, scalars);
    }

    /// Final checkpoint, status and summary, whatever ended the loop.
    pub(super) fn finish(mut self, ending: Result<Ending, DaemonError>) -> Result<TrainSummary, DaemonError> {
        let ending = ending.map_err(|error| with_memory_hint(error, &self.config));
        self.progress.finish();
        self.settle_verdicts(); // the count is complete; a run that failed is not stopped again
        let skipped = self.nonfinite.total;
        // A guard wrote its own (rewound) checkpoint, and a failed write under the `stop` policy
        // leaves the previous one standing; anything else saves where it stands. Either way the
        // writer finishes every queued checkpoint before the run reports its end.
        let ending = match ending {
            Ok(Ending::Guarded(stop)) => Err(stop.into()),
            other if self.checkpoints.stopped => other,
            other => {
                let start = Instant::now();
                let saved = self.checkpoint().and_then(|()| self.checkpoints.wait(&self.config));
                self.clock.checkpointing += start.elapsed();
                if let (Err(_), Err(error)) = (&other, &saved) {
                    // The run's own error is what it ends with; this one must not go unsaid.
                    tracing::error!("no final checkpoint: {error}");
                }
                other.and_then(|ending| saved.map(|()| ending))
            }
        };
        if let Err(error) = self.checkpoints.wait(&self.config) {
            tracing::error!("{error}");
        }
        let (stages, queues) = (self.clock.stages(self.data.busy(self.bank_busy())), self.data.queues());
        self.board.update(|s| (s.stages, s.queues) = (stages, queues));
        let images_per_second = self.images_per_second();
        let (bank_digest, weights_digest) = match ending.is_ok() {
            true => (Some(self.bank_digest()), Some(self.weights_digest())),
            false => (None, None),
        };
        let left_behind = self.data.shutdown_within(SHUTDOWN_GRACE);
        if left_behind > 0 {
            tracing::warn!(threads = left_behind, "pipeline threads still blocked at exit were left behind");
        }
        let training = self.clock.training_time().as_secs_f64().max(1e-9);
        let summary = TrainSummary {
            steps: self.student.step_count(),
            last_checkpoint: self.checkpoints.last.clone(),
            stopped_by_signal: matches!(ending, Ok(Ending::Requested)),
            images_per_second,
            data_wait_fraction: self.clock.waiting.as_secs_f64() / training,
            already_finished: false,
            stopped_during_startup: None,
            requeued: None,
        };
        let bound = self.clock.bound_by();
        let (state, message) = match &ending {
            Ok(Ending::Planned) => (RunState::Finished, None),
            Ok(Ending::Requested) => (RunState::Stopped, Some("stopped on request".to_owned())),
            Ok(Ending::Guarded(stop)) => (RunState::Failed, Some(stop.to_string())),
            Err(error) => (RunState::Failed, Some(error.to_string())),
        };
        let (step, last) = (self.student.step_count(), self.checkpoints.last.clone());
        self.board.update(|s| {
            (s.state, s.step, s.skipped_steps) = (state, step, skipped);
            // None written by this process: the one it resumed from is still the newest.
            s.last_checkpoint = last.or(s.last_checkpoint.take());
            if message.is_some() {
                s.message = message;
            }
        });
        self.board.persist();
        self.metrics.finish(); // every record is on disk before the run says it ended
        ending?;
        for stage in self.board.snapshot().stages {
            tracing::info!(stage = %stage.name, busy = stage.busy_fraction, wait = stage.wait_fraction, "stage utilisation");
        }
        tracing::info!(
            steps = summary.steps,
            images_per_second = summary.images_per_second,
            data_wait_fraction = summary.data_wait_fraction,
            metrics = %self.metrics.path().display(),
            visual_bank_sha256 = %bank_digest.unwrap_or_default(),
            weights_sha256 = %weights_digest.unwrap_or_default(),
            "finished; throughput was bounded by {bound}"
        );
        Ok(summary)
    }
}

//! The training loop of the daemon. Start-up checks fail fast with one line naming the culprit;
//! after that the loop only stops at a step boundary — planned end, SIGTERM/SIGINT, a guard
//! (non-finite streak, data stall, failed checkpoint when so configured) or an error — and leaves
//! a consistent checkpoint behind.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lgd_actors::data_pipeline::{DataPipeline, DataPlan, Next};
use lgd_actors::decode_worker::WorkerContext;
use lgd_actors::sampler::steps_per_epoch;
use lgd_actors::source::SampleSource;
use lgd_datasets::augment::pipeline::Augmenter;
use lgd_datasets::decode::DecodeOptions;
use serde_json::json;
use tch::{Device, Tensor};

use super::checkpointing::Checkpointer;
use super::metrics::MetricsWriter;
use super::nonfinite::NonFiniteGuard;
use super::progress::Progress;
use super::reload::{reload, ReloadOutcome};
use super::signals::Signals;
use super::stage_clock::{queues, StageClock};
use super::startup::{open_training_data, prepare_run_dir, resume, startup};
use super::status::{config_digest, HistoryPoint, RunState, RunStatus, StatusBoard};
use super::{load_teacher, AnyTeacher, DaemonError};
use crate::config::{Config, DeviceSpec};
use crate::eval::ValidationSet;
use crate::models::teacher::Teacher;
use crate::status_server::StatusServer;
use crate::train::{StepReport, Trainer};

/// How long a stuck pipeline thread may delay the exit before it is left behind.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

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
}

/// Everything the loop works with, so its parts can be methods instead of one long function.
struct Session<'a> {
    config_path: &'a Path,
    run_dir: &'a Path,
    config: Config,
    trainer: Trainer<AnyTeacher>,
    source: Arc<dyn SampleSource>,
    pipeline: DataPipeline,
    validation: Option<ValidationSet>,
    classes: usize,
    device: Device,
    signals: Signals,
    metrics: MetricsWriter,
    board: StatusBoard,
    progress: Progress,
    clock: StageClock,
    checkpoints: Checkpointer,
    nonfinite: NonFiniteGuard,
    reported_bad: std::collections::HashSet<PathBuf>,
    started_at_step: u64,
    persisted_at: Instant,
}

/// Why the loop ended (errors aside).
enum Ending {
    Planned,
    Requested,
    /// A guard stopped the run after writing its own checkpoint.
    Guarded(String),
}

/// Runs `config_path` in `run_dir` until its last epoch or a stop signal.
pub fn train(config_path: &Path, run_dir: &Path) -> Result<TrainSummary, DaemonError> {
    let config = Config::load(config_path).map_err(|e| startup(e.to_string()))?;
    let _lock = prepare_run_dir(run_dir)?;
    std::fs::write(run_dir.join("config.toml"), config.to_toml()).map_err(|e| startup(format!("{}: {e}", run_dir.display())))?;
    if let DeviceSpec::Cuda(index) = config.run.device {
        if (index as i64) >= tch::Cuda::device_count() {
            return Err(startup(format!("run.device = \"cuda:{index}\" but this process sees {} CUDA devices (see `lgd info`)", tch::Cuda::device_count())));
        }
    }
    if config.fault_injection.any() {
        tracing::warn!(faults = ?config.fault_injection, "fault injection is ON: this run fails on purpose");
        crate::atomic_file::inject_delay_before_rename(Duration::from_millis(config.fault_injection.checkpoint_write_delay_ms));
    }
    let run_id = config.run.name.clone().unwrap_or_else(|| run_dir.file_name().map_or("run".into(), |n| n.to_string_lossy().into_owned()));
    let board = StatusBoard::new(run_dir, RunStatus::starting(run_id, &config.to_toml()));
    board.persist();
    let device = config.run.device.to_tch();
    let source = open_training_data(&config)?;
    let per_epoch = steps_per_epoch(source.len(), config.data.batch_size);
    if per_epoch == 0 {
        return Err(startup(format!(
            "data.train: {} has {} images, fewer than one batch of {}",
            config.data.train.display(),
            source.len(),
            config.data.batch_size
        )));
    }
    let teacher = load_teacher(&config, run_dir, device)?;
    let classes = source.classes().len();
    let validation = match &config.data.val {
        Some(root) if config.validation.every_epochs > 0 || config.validation.every_steps > 0 => {
            let a = &config.augmentation;
            let set = ValidationSet::load(root, a.eval_resize, a.eval_crop, a.mean, a.std, config.validation.max_images)
                .map_err(startup)?;
            for skipped in set.skipped() {
                tracing::warn!("validation image skipped: {skipped}");
            }
            Some(set)
        }
        _ => None,
    };
    let mut trainer = Trainer::new(&config, teacher, per_epoch, device).map_err(|e| startup(e.to_string()))?;
    resume(&mut trainer, &config, run_dir)?;
    let signals = Signals::install().map_err(|e| startup(format!("installing signal handlers: {e}")))?;
    let status_server = config.status.socket_addr().map(|addr| StatusServer::start(addr, run_dir, board.clone(), signals.clone()));
    let _status_server = status_server.transpose().map_err(|e| startup(e.to_string()))?; // served until `train` returns
    let augmenter = Augmenter::new(config.augmentation.clone()).map_err(|e| startup(e.to_string()))?;
    let context = WorkerContext {
        source: source.clone(),
        augmenter,
        decode: DecodeOptions::default(),
        seed: config.run.seed,
        stall_on: config.fault_injection.stall_sample,
    };
    let plan = DataPlan {
        batch: config.data.batch_size,
        image_size: config.augmentation.output_size,
        start_epoch: trainer.epoch,
        start_step: trainer.step_in_epoch,
        epochs: config.schedule.epochs as u64,
        seed: config.run.seed,
    };
    let pipeline = DataPipeline::start(context, plan, &config.pipeline);
    let metrics = MetricsWriter::open(run_dir).map_err(|e| startup(format!("{}: {e}", run_dir.display())))?;
    let total_steps = per_epoch * config.schedule.epochs as u64;
    board.update(|s| {
        (s.state, s.step, s.epoch, s.total_steps, s.steps_per_epoch) = (RunState::Training, trainer.step, trainer.epoch, total_steps, per_epoch);
    });
    board.persist();
    tracing::info!(run = %run_dir.display(), steps_per_epoch = per_epoch, start_step = trainer.step, "training");
    let mut session = Session {
        config_path,
        run_dir,
        progress: Progress::new(total_steps, trainer.step),
        checkpoints: Checkpointer::new(run_dir, trainer.step),
        started_at_step: trainer.step,
        config,
        trainer,
        source,
        pipeline,
        validation,
        classes,
        device,
        signals,
        metrics,
        board,
        clock: StageClock::start(),
        nonfinite: NonFiniteGuard::default(),
        reported_bad: Default::default(),
        persisted_at: Instant::now(),
    };
    let ending = session.run();
    session.finish(ending)
}

impl Session<'_> {
    fn run(&mut self) -> Result<Ending, DaemonError> {
        if self.trainer.step == 0 {
            self.validate();
        }
        loop {
            let requests = self.signals.take();
            if requests.reload {
                self.reload();
            }
            if requests.stop {
                return Ok(Ending::Requested);
            }
            if requests.checkpoint {
                self.checkpoint()?;
            }
            let wait_start = Instant::now();
            let stall_timeout = Duration::from_secs_f64(self.config.guards.stall_timeout_s);
            let next = self.pipeline.next_within(Some(stall_timeout));
            self.clock.waiting += wait_start.elapsed();
            let host = match next {
                Next::Done => return Ok(Ending::Planned),
                Next::TimedOut => return Err(self.stalled(stall_timeout)),
                Next::Batch(Err(error)) => return Err(DaemonError::Training(format!("data pipeline: {error}"))),
                Next::Batch(Ok(host)) => host,
            };
            self.note_bad_samples(&host.bad)?;
            let compute_start = Instant::now();
            let (batch, size) = (self.config.data.batch_size as i64, self.config.augmentation.output_size as i64);
            let images = Tensor::from_slice(&host.pixels).reshape([batch, 3, size, size]).to_device(self.device);
            let before = self.trainer.position();
            let report = self.trainer.step(&images).map_err(|e| DaemonError::Training(e.to_string()))?;
            let streak = self.nonfinite.record(before, report.nonfinite);
            if report.nonfinite {
                tracing::warn!(step = self.trainer.step, streak, "non-finite loss: step skipped (weights, momentum and banks unchanged)");
            }
            if self.trainer.step % self.config.logging.every_steps == 0 || self.trainer.step == 1 {
                self.log_step(&report, host.epoch, compute_start);
            } else {
                self.clock.computing += compute_start.elapsed();
            }
            let limit = self.config.guards.max_consecutive_nonfinite;
            if limit > 0 && streak >= limit {
                return self.stop_nonfinite(streak);
            }
            let (step, epoch, epoch_done) = (self.trainer.step, self.trainer.epoch, self.trainer.step_in_epoch == 0);
            let v = &self.config.validation;
            if (v.every_steps > 0 && step % v.every_steps == 0) || (epoch_done && v.every_epochs > 0 && epoch % v.every_epochs as u64 == 0) {
                self.validate();
            }
            let c = &self.config.checkpoint;
            if (c.every_steps > 0 && step % c.every_steps == 0) || (epoch_done && c.every_epochs > 0 && epoch % c.every_epochs as u64 == 0) {
                self.checkpoint()?;
            }
        }
    }

    fn checkpoint(&mut self) -> Result<(), DaemonError> {
        let start = Instant::now();
        let result = self.checkpoints.save(&self.trainer, &self.config);
        self.clock.checkpointing += start.elapsed();
        let last = self.checkpoints.last.clone();
        self.board.update(|s| s.last_checkpoint = last);
        result
    }

    fn reload(&mut self) {
        match reload(self.config_path, &self.config) {
            ReloadOutcome::Applied(new, diff) => {
                tracing::info!(changes = %diff.join("; "), "config reloaded");
                self.trainer.apply_reloadable(&new);
                let digest = config_digest(&new.to_toml());
                self.board.update(|s| (s.config_digest, s.message) = (digest, Some(format!("config reloaded: {}", diff.join("; ")))));
                self.config = new;
            }
            ReloadOutcome::Unchanged => tracing::info!("config reloaded: no change"),
            ReloadOutcome::Refused(fields) => {
                let message = format!("reload refused: {} cannot change while training; old config kept", fields.join(", "));
                tracing::warn!(fields = %fields.join(", "), "{message}");
                self.board.update(|s| s.message = Some(message));
            }
            ReloadOutcome::Invalid(error) => {
                tracing::error!("reload failed, old config kept: {error}");
                self.board.update(|s| s.message = Some(format!("reload failed, old config kept: {error}")));
            }
        }
    }

    fn validate(&mut self) {
        let Some(set) = &self.validation else { return };
        self.board.update(|s| s.state = RunState::Validating);
        let start = Instant::now();
        let matches = self.trainer.teacher().bank().classes() as usize == self.classes;
        let signals = &self.signals;
        let result = set.evaluate_until(self.trainer.student(), self.trainer.teacher(), matches, self.device, &|| signals.stop_requested());
        self.clock.validating += start.elapsed();
        self.board.update(|s| s.state = RunState::Training);
        let Some(result) = result else {
            tracing::info!(step = self.trainer.step, "validation interrupted by a stop request");
            return;
        };
        tracing::info!(
            step = self.trainer.step,
            agreement = result.agreement,
            student_top1 = ?result.student_top1,
            teacher_top1 = ?result.teacher_top1,
            images = result.images,
            "validation"
        );
        let value = json!({ "step": self.trainer.step, "validation": result });
        let _ = self.metrics.record(&value);
        self.board.update(|s| s.validation = Some(value));
    }

    fn note_bad_samples(&mut self, bad: &[(PathBuf, String)]) -> Result<(), DaemonError> {
        for (path, reason) in bad {
            if self.reported_bad.insert(path.clone()) {
                tracing::warn!("bad sample replaced: {reason}");
                let _ = self.metrics.bad_sample(path, reason);
            }
        }
        let (count, samples) = (self.reported_bad.len(), self.source.len());
        self.board.update(|s| s.bad_samples = count);
        if count as f64 > self.config.data.max_bad_fraction * samples as f64 {
            return Err(DaemonError::Training(format!(
                "{count} of {samples} training files could not be used, more than data.max_bad_fraction = {}; they are listed in {}",
                self.config.data.max_bad_fraction,
                self.run_dir.join("bad_samples.txt").display()
            )));
        }
        Ok(())
    }

    fn images_per_second(&self) -> f64 {
        let batch = self.config.data.batch_size;
        ((self.trainer.step - self.started_at_step) as usize * batch) as f64 / self.clock.training_time().as_secs_f64().max(1e-9)
    }

    fn log_step(&mut self, report: &StepReport, epoch: u64, compute_start: Instant) {
        let loss = report.loss.double_value(&[]); // the one read-back per log interval
        self.clock.computing += compute_start.elapsed();
        let images_per_second = self.images_per_second();
        let point = HistoryPoint {
            step: self.trainer.step,
            loss,
            image_loss: report.image_loss.double_value(&[]),
            text_loss: report.text_loss.double_value(&[]),
            lr: report.lr,
            images_per_second,
        };
        let (stages, queues) = (self.clock.stages(&self.pipeline), queues(&self.pipeline));
        let training = self.clock.training_time().as_secs_f64().max(1e-9);
        let record = json!({
            "step": point.step, "epoch": epoch, "loss": loss, "image_loss": point.image_loss, "text_loss": point.text_loss,
            "lr": report.lr, "skipped": report.skipped, "nonfinite": report.nonfinite, "images_per_second": images_per_second,
            "data_wait_fraction": self.clock.waiting.as_secs_f64() / training, "batches_ready": self.pipeline.ready(),
            "bad_samples": self.reported_bad.len(), "skipped_steps": self.nonfinite.total,
            "stages": stages, "queues": queues,
        });
        let _ = self.metrics.record(&record);
        if self.progress.visible() {
            tracing::debug!(step = point.step, epoch, loss, lr = report.lr, images_per_second, "step");
        } else {
            tracing::info!(step = point.step, epoch, loss, lr = report.lr, images_per_second, "step");
        }
        self.progress.update(epoch, point.step, images_per_second, loss, report.lr);
        let (step, epoch_now, skipped) = (self.trainer.step, self.trainer.epoch, self.nonfinite.total);
        let bound = self.clock.bound_by().to_owned();
        self.board.update(|s| {
            let left = s.total_steps.saturating_sub(step) as f64 * self.config.data.batch_size as f64;
            s.eta_seconds = (images_per_second > 0.0).then(|| left / images_per_second);
            (s.step, s.epoch, s.images_per_second, s.skipped_steps) = (step, epoch_now, images_per_second, skipped);
            (s.stages, s.queues, s.bound_by) = (stages, queues, Some(bound));
            s.push_point(point);
        });
        if self.persisted_at.elapsed() >= Duration::from_secs(1) {
            self.board.persist();
            self.persisted_at = Instant::now();
        }
    }

    fn stalled(&mut self, waited: Duration) -> DaemonError {
        let culprit = match self.pipeline.stats().longest_busy() {
            Some(busy) => format!(
                "decode worker lgd-decode-{} has been on {} for {:.1} s",
                busy.worker,
                self.source.describe(busy.index).display(),
                busy.for_time.as_secs_f64()
            ),
            None => "no decode worker is busy (the sampler or the assembler is stuck)".to_owned(),
        };
        DaemonError::Training(format!(
            "data pipeline stalled: no batch for {:.1} s (guards.stall_timeout_s); {culprit}",
            waited.as_secs_f64()
        ))
    }

    fn stop_nonfinite(&mut self, streak: u32) -> Result<Ending, DaemonError> {
        let first = self.nonfinite.first_bad_step().unwrap_or(self.trainer.step);
        let state = self.nonfinite.rewind(self.trainer.state());
        let rewound_to = state.step;
        self.checkpoints.write(state, &self.config)?;
        // Checkpoints taken during the streak hold the same weights at a later position; remove
        // them so that `resume = "auto"` retries from before the streak.
        for path in crate::checkpoint::list_checkpoints(self.run_dir) {
            let step = path.file_stem().and_then(|s| s.to_str()).and_then(|s| s.strip_prefix("step-")).and_then(|s| s.parse::<u64>().ok());
            let rewound_saved = self.checkpoints.saved_at == Some(rewound_to);
            if rewound_saved && step.is_some_and(|step| step > rewound_to) && std::fs::remove_file(&path).is_ok() {
                tracing::info!(path = %path.display(), "removed a checkpoint taken during the non-finite streak");
            }
        }
        let path = self.checkpoints.last.clone().filter(|_| self.checkpoints.saved_at == Some(rewound_to));
        let written = path.map_or_else(|| "no checkpoint could be written".to_owned(), |p| format!("checkpoint {}", p.display()));
        Ok(Ending::Guarded(format!(
            "{streak} consecutive non-finite losses (steps {first} to {}, guards.max_consecutive_nonfinite); stopped with {written} from before step {first}",
            self.trainer.step
        )))
    }

    /// Final checkpoint, status and summary, whatever ended the loop.
    fn finish(mut self, ending: Result<Ending, DaemonError>) -> Result<TrainSummary, DaemonError> {
        self.progress.finish();
        // A guard wrote its own (rewound) checkpoint; anything else saves where it stands.
        let ending = match ending {
            Ok(Ending::Guarded(message)) => Err(DaemonError::Training(message)),
            other => {
                let saved = self.checkpoint();
                other.and_then(|ending| saved.map(|()| ending))
            }
        };
        let (stages, queues) = (self.clock.stages(&self.pipeline), queues(&self.pipeline));
        self.board.update(|s| (s.stages, s.queues) = (stages, queues));
        let images_per_second = self.images_per_second();
        let left_behind = self.pipeline.shutdown_within(SHUTDOWN_GRACE);
        if left_behind > 0 {
            tracing::warn!(threads = left_behind, "pipeline threads still blocked at exit were left behind");
        }
        let training = self.clock.training_time().as_secs_f64().max(1e-9);
        let summary = TrainSummary {
            steps: self.trainer.step,
            last_checkpoint: self.checkpoints.last.clone(),
            stopped_by_signal: matches!(ending, Ok(Ending::Requested)),
            images_per_second,
            data_wait_fraction: self.clock.waiting.as_secs_f64() / training,
        };
        let bound = self.clock.bound_by();
        let (state, message) = match &ending {
            Ok(Ending::Planned) => (RunState::Finished, None),
            Ok(Ending::Requested) => (RunState::Stopped, Some("stopped on request".to_owned())),
            Ok(Ending::Guarded(message)) => (RunState::Failed, Some(message.clone())),
            Err(error) => (RunState::Failed, Some(error.to_string())),
        };
        let (step, last) = (self.trainer.step, self.checkpoints.last.clone());
        self.board.update(|s| {
            (s.state, s.step, s.last_checkpoint) = (state, step, last);
            if message.is_some() {
                s.message = message;
            }
        });
        self.board.persist();
        ending?;
        for stage in self.board.snapshot().stages {
            tracing::info!(stage = %stage.name, busy = stage.busy_fraction, wait = stage.wait_fraction, "stage utilisation");
        }
        tracing::info!(
            steps = summary.steps,
            images_per_second = summary.images_per_second,
            data_wait_fraction = summary.data_wait_fraction,
            metrics = %self.metrics.path().display(),
            "finished; throughput was bounded by {bound}"
        );
        Ok(summary)
    }
}

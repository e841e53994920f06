//! `lgd train` from config file to running loop. Start-up checks fail fast with one line naming
//! the culprit; after that the loop (`session`) only stops at a step boundary — planned end,
//! SIGTERM/SIGINT, a guard (non-finite streak, data stall, failed checkpoint when so configured)
//! or an error — and leaves a consistent checkpoint behind.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lgd_actors::sampler::steps_per_epoch;

use super::checkpointing::Checkpointer;
use super::config_watch::ConfigWatch;
use super::data_stages::{DataStages, StageParts};
use super::metrics::{MetricsSink, MetricsWriter};
use super::nonfinite::NonFiniteGuard;
use super::progress::Progress;
use super::session::Session;
use super::signals::Signals;
use super::stage_clock::StageClock;
use super::student_stage::StudentStage;
use super::teacher_replay::TeacherReplay;
use super::startup::{checkpoint_to_resume, open_training_data, prepare_run_dir, resume, startup};
use super::status::{RunState, RunStatus, StatusBoard};
use super::replica::Replica;
use super::resume_check::ResumeTerms;
use super::{load_teacher, DaemonError};
use crate::checkpoint::{list_checkpoints, DataShape};
use crate::config::{Config, DeviceSpec};
use crate::eval::ValidationSet;
use crate::models::teacher::Teacher;
use crate::status_server::StatusServer;
use crate::train::Trainer;

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
}

/// How `lgd train` was asked to start.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrainOptions {
    /// Resume from a checkpoint even where this start's config or training data differ from its
    /// run's in what the run learns (`--accept-changes`).
    pub accept_changes: bool,
}

/// Runs `config_path` in `run_dir` until its last epoch or a stop signal.
pub fn train(config_path: &Path, run_dir: &Path, options: TrainOptions) -> Result<TrainSummary, DaemonError> {
    let config = Config::load(config_path).map_err(|e| startup(e.to_string()))?;
    let replica = Replica::from_env()?;
    // Rank 0 (or a lone process) owns the run folder; another rank keeps its files in RUN/rank-N.
    let checkpoints_dir = run_dir;
    let run_dir = &replica.own_dir(checkpoints_dir);
    let _lock = prepare_run_dir(run_dir)?;
    std::fs::write(run_dir.join("config.toml"), config.to_toml()).map_err(|e| startup(format!("{}: {e}", run_dir.display())))?;
    let device_spec = replica.device(config.run.device);
    replica.batch(&config)?; // fails fast on a global batch the ranks cannot share
    if let DeviceSpec::Cuda(index) = device_spec {
        if (index as i64) >= tch::Cuda::device_count() {
            return Err(startup(format!("run.device = \"cuda:{index}\" but this process sees {} CUDA devices (see `lgd info`)", tch::Cuda::device_count())));
        }
    }
    if matches!(config.run.device, DeviceSpec::Cuda(_)) {
        // Autotuned convolution algorithms: the shapes of a training run never change.
        tch::Cuda::cudnn_set_benchmark(config.precision.cudnn_benchmark);
    }
    if config.teacher.own_stream && !matches!(device_spec, DeviceSpec::Cuda(_)) {
        tracing::warn!("teacher.own_stream has no effect on the CPU: there are no streams to separate");
    }
    if config.fault_injection.any() {
        tracing::warn!(faults = ?config.fault_injection, "fault injection is ON: this run fails on purpose");
        crate::atomic_file::inject_delay_before_rename(Duration::from_millis(config.fault_injection.checkpoint_write_delay_ms));
    }
    let run_id = config.run.name.clone().unwrap_or_else(|| run_dir.file_name().map_or("run".into(), |n| n.to_string_lossy().into_owned()));
    let previous = RunStatus::read(run_dir).ok();
    let board = StatusBoard::new(run_dir, RunStatus::starting(run_id, &config.to_toml()));
    board.update(|s| s.last_checkpoint = list_checkpoints(checkpoints_dir).pop());
    board.persist();
    let starting = Start { config, config_path, run_dir, checkpoints_dir, replica, device_spec, options };
    // A start that fails leaves a status that says so, not one of a process that vanished.
    let started = start(starting, board.clone()).inspect_err(|error| {
        board.update(|s| (s.state, s.message) = (RunState::Failed, Some(error.to_string())));
        board.persist();
    })?;
    match started {
        Started::Session(mut session, _status_server) => {
            let ending = session.run();
            session.finish(ending) // the status server is served until here
        }
        Started::AlreadyFinished(ended) => Ok(already_finished(&ended, previous, &board)),
    }
}

/// What `start` found: a run to train, or one whose newest checkpoint already ended its schedule.
enum Started<'a> {
    Session(Box<Session<'a>>, Option<StatusServer>),
    AlreadyFinished(EndedAt),
}

/// Where a finished run ended: its checkpoint and position, and the epochs the config asks for.
struct EndedAt {
    checkpoint: PathBuf,
    step: u64,
    epoch: u64,
    epochs: u32,
}

/// A finished run started again (by hand, or by a supervisor that restarts the daemon) trains
/// nothing and says so; its status keeps the figures of the process that finished it.
fn already_finished(ended: &EndedAt, previous: Option<RunStatus>, board: &StatusBoard) -> TrainSummary {
    let message = format!(
        "already finished: {} is at step {}, the end of epoch {} (schedule.epochs = {}); nothing to train (raise schedule.epochs to train further)",
        ended.checkpoint.display(),
        ended.step,
        ended.epoch,
        ended.epochs
    );
    tracing::info!(step = ended.step, "{message}");
    let fresh = board.snapshot();
    board.update(|s| {
        if let Some(before) = previous.filter(|p| p.state == RunState::Finished && p.step == ended.step) {
            *s = RunStatus { pid: fresh.pid, config_digest: fresh.config_digest, ..before };
        }
        (s.state, s.step, s.epoch, s.total_steps) = (RunState::Finished, ended.step, ended.epoch, ended.step);
        (s.last_checkpoint, s.message) = (Some(ended.checkpoint.clone()), Some(message));
    });
    board.persist();
    TrainSummary {
        steps: ended.step,
        last_checkpoint: Some(ended.checkpoint.clone()),
        stopped_by_signal: false,
        images_per_second: 0.0,
        data_wait_fraction: 0.0,
        already_finished: true,
    }
}

/// What `train` hands over once the run folder is locked and the status board exists.
struct Start<'a> {
    config: Config,
    config_path: &'a Path,
    /// Rank 0's run folder (checkpoints), or this rank's own (`RUN/rank-N`, logs and metrics).
    run_dir: &'a Path,
    checkpoints_dir: &'a Path,
    replica: Replica,
    device_spec: DeviceSpec,
    options: TrainOptions,
}

/// Loads the data, the teacher and the checkpoint to resume, and starts every stage and the
/// status server (if configured).
fn start(starting: Start<'_>, board: StatusBoard) -> Result<Started<'_>, DaemonError> {
    let Start { config, config_path, run_dir, checkpoints_dir, replica, device_spec, options } = starting;
    let device = device_spec.to_tch();
    let source = open_training_data(&config)?;
    let per_epoch = steps_per_epoch(source.len(), config.data.batch_size); // global batches
    if per_epoch == 0 {
        return Err(startup(format!(
            "data.train: {} has {} images, fewer than one batch of {}",
            config.data.train.display(),
            source.len(),
            config.data.batch_size
        )));
    }
    let classes = source.classes().len();
    let data_shape = DataShape { samples: source.len() as u64, classes: classes as u64 };
    let validation = match &config.data.val {
        // Rank 0 validates; the other ranks wait for it in their next collective.
        Some(root) if replica.leads() && (config.validation.every_epochs > 0 || config.validation.every_steps > 0) => {
            let a = &config.augmentation;
            let set = ValidationSet::load(root, a.eval_resize, a.eval_crop, a.mean, a.std, config.validation.max_images)
                .map_err(startup)?;
            tracing::info!(root = %root.display(), images = set.len(), "validation set (decoded at each validation)");
            Some(set)
        }
        None if replica.leads() => {
            tracing::info!("no validation: data.val is not set");
            None
        }
        _ => None,
    };
    let terms = ResumeTerms { data: data_shape, steps_per_epoch: per_epoch, accept_changes: options.accept_changes };
    let resumed = checkpoint_to_resume(&config, checkpoints_dir, &terms)?;
    if let Some((path, state)) = resumed.as_ref().filter(|(_, state)| state.epoch >= config.schedule.epochs as u64) {
        let (step, epoch, epochs) = (state.step, state.epoch, config.schedule.epochs);
        return Ok(Started::AlreadyFinished(EndedAt { checkpoint: path.clone(), step, epoch, epochs }));
    }
    // After the paths and the checkpoint are checked: loading a CLIP teacher takes a while.
    let teacher = load_teacher(&config, run_dir, device)?;
    let mut trainer = Trainer::new(&config, teacher, per_epoch, device).map_err(|e| startup(e.to_string()))?;
    if let Some(resumed) = resumed {
        resume(&mut trainer, resumed)?;
    }
    replica.join(&mut trainer, &config)?;
    let signals = Signals::install().map_err(|e| startup(format!("installing signal handlers: {e}")))?;
    let status_server = config.status.socket_addr().filter(|_| replica.leads()).map(|addr| StatusServer::start(addr, run_dir, board.clone(), signals.clone()));
    let status_server = status_server.transpose().map_err(|e| startup(e.to_string()))?;
    let metrics = MetricsWriter::open(run_dir, config.logging.tensorboard, trainer.step).and_then(MetricsSink::start).map_err(startup)?;
    // From where the trainer stands: a resume under another batch size or data moved its position.
    let epochs_left = (config.schedule.epochs as u64).saturating_sub(trainer.epoch);
    let total_steps = trainer.step + (epochs_left * per_epoch).saturating_sub(trainer.step_in_epoch);
    board.update(|s| {
        (s.state, s.step, s.epoch, s.total_steps, s.steps_per_epoch) = (RunState::Training, trainer.step, trainer.epoch, total_steps, per_epoch);
    });
    board.persist();
    tracing::info!(run = %run_dir.display(), steps_per_epoch = per_epoch, start_step = trainer.step, "training");
    let session_watch = config.run.watch_config.then(|| ConfigWatch::new(config_path));
    let teacher_replay = TeacherReplay::open(run_dir, &config, source.len(), trainer.teacher().embed_dim())?.map(|r| Arc::new(Mutex::new(r)));
    let parts = StageParts {
        source: source.clone(),
        replica: replica.clone(),
        teacher: trainer.teacher().clone(),
        device,
        precision: trainer.forward_precision(),
        replay: teacher_replay.clone(),
    };
    let data = DataStages::start(parts, &config, (trainer.epoch, trainer.step_in_epoch)).map_err(startup)?;
    let start_step = trainer.step;
    let student = StudentStage::start(trainer, &config).map_err(|e| startup(e.to_string()))?;
    let session = Session {
        teacher_replay: teacher_replay.map(|r| (r, 0, 0)),
        config_path,
        run_dir,
        progress: Progress::new(total_steps, start_step),
        checkpoints: Checkpointer::new(run_dir, start_step, config.pipeline.checkpoint_requests, data_shape)?,
        started_at_step: start_step,
        total_steps,
        config,
        student,
        source,
        data,
        validation,
        classes,
        device,
        signals,
        metrics,
        board,
        clock: StageClock::start(),
        nonfinite: NonFiniteGuard::default(),
        interval_loss: Default::default(),
        unrecorded: None,
        reported_bad: Default::default(),
        persisted_at: Instant::now(),
        watch: session_watch,
        leads: replica.leads(),
    };
    Ok(Started::Session(Box::new(session), status_server))
}

//! `lgd train` from config file to running loop. Start-up checks fail fast with one line naming
//! the culprit; after that the loop (`session`) only stops at a step boundary — planned end,
//! SIGTERM/SIGINT, a guard (non-finite streak, data stall, failed checkpoint when so configured)
//! or an error — and leaves a consistent checkpoint behind.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use lgd_actors::sampler::steps_per_epoch;

use super::any_teacher::load_teacher;
use super::checkpoint_writer::Checkpointer;
use super::control::Control;
use super::data_stages::{DataStages, StageParts};
use super::metrics::{MetricsSink, MetricsWriter};
use super::replica::Replica;
use super::requeue::requeue;
use super::resume_check::ResumeTerms;
use super::session::{Session, SessionParts};
use super::signals::Signals;
use super::startup::{checkpoint_to_resume, claim_run_dir, lock_run_dir, open_training_data, resume};
use super::startup_phase::{StartupPhase, StartupSteps};
use super::status::{RunState, RunStatus, StatusBoard};
use super::student_stage::StudentStage;
use super::summary::TrainSummary;
use super::topology;
use super::{DaemonError, StartupError};
use crate::checkpoint::{list_checkpoints, DataShape};
use crate::config::{Config, DeviceSpec};
use crate::eval::ValidationSet;
use crate::models::teacher::Teacher;
use crate::status_server::StatusServer;
use crate::teacher_cache::replay::TeacherReplay;
use crate::train::Trainer;

/// How `lgd train` was asked to start.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrainOptions {
    /// Resume from a checkpoint even where this start's config or training data differ from its
    /// run's in what the run learns (`--accept-changes`).
    pub accept_changes: bool,
}

/// Runs `config_path` in `run_dir` until its last epoch or a stop signal.
pub fn train(config_path: &Path, run_dir: &Path, options: TrainOptions) -> Result<TrainSummary, DaemonError> {
    // First thing: from here a signal is a request (see `startup_phase`), never the default
    // action, which would kill a start-up that reads the data, the teacher and its bank.
    let signals = Signals::install().map_err(StartupError::SignalHandlers)?;
    let config = Config::load(config_path).map_err(StartupError::from)?;
    if let Some(signal) = config.run.requeue_on() {
        signals.requeue_on(signal.number()).map_err(StartupError::RequeueHandler)?;
        tracing::info!(signal = %String::from(signal), "run.requeue: this signal checkpoints, stops and requeues the job");
    }
    let replica = Replica::from_env()?;
    let leads = replica.leads();
    // Rank 0 (or a lone process) owns the run folder; another rank keeps its files in RUN/rank-N.
    let checkpoints_dir = run_dir;
    let run_dir = &replica.own_dir(checkpoints_dir);
    let _lock = lock_run_dir(run_dir)?;
    let run_id = config
        .run
        .name
        .clone()
        .unwrap_or_else(|| run_dir.file_name().map_or("run".into(), |n| n.to_string_lossy().into_owned()));
    let previous = RunStatus::read(run_dir).ok();
    let board = StatusBoard::new(run_dir, RunStatus::starting(run_id, &config.to_toml()));
    board.update(|s| s.last_checkpoint = list_checkpoints(checkpoints_dir).pop());
    board.persist();
    let steps = StartupSteps::new(signals.clone(), board.clone(), config.fault_injection.startup_hold());
    let starting = Start { config, config_path, run_dir, checkpoints_dir, replica, signals: signals.clone(), options };
    // A start that fails leaves a status that says so, not one of a process that vanished.
    let started = match start(starting, board.clone(), &steps) {
        Err(DaemonError::StoppedDuringStartup(phase)) => {
            return requeue_if_asked(&signals, leads, stopped_during_startup(phase, &board), &board)
        }
        Err(error) => {
            board.update(|s| (s.state, s.message) = (RunState::Failed, Some(error.to_string())));
            board.persist();
            return Err(error);
        }
        Ok(started) => started,
    };
    let summary = match started {
        Started::Session(mut session, _status_server) => {
            let ending = session.run();
            session.finish(ending)? // the status server is served until here
        }
        Started::AlreadyFinished(ended) => return Ok(already_finished(&ended, previous, &board)),
    };
    requeue_if_asked(&signals, leads, summary, &board)
}

/// A stop on `run.requeue`'s signal (this rank's or, agreed, another's): the run is saved, now
/// the job is requeued. A run that reached its end first is not: there is nothing left to run.
fn requeue_if_asked(
    signals: &Signals,
    leads: bool,
    mut summary: TrainSummary,
    board: &StatusBoard,
) -> Result<TrainSummary, DaemonError> {
    if !(summary.stopped_by_signal && signals.requeue_requested()) {
        return Ok(summary);
    }
    let outcome = requeue(leads, summary.last_checkpoint.as_deref());
    let message = match &outcome {
        Ok(requeued) => format!("stopped for a requeue (time-limit warning): {requeued}"),
        Err(error) => error.to_string(),
    };
    board.update(|s| s.message = Some(message.clone()));
    board.persist();
    summary.requeued = Some(outcome?);
    tracing::info!(last_checkpoint = ?summary.last_checkpoint, "{message}");
    Ok(summary)
}

/// SIGTERM/SIGINT during start-up: it stopped at its next safe point, nothing trained.
fn stopped_during_startup(phase: StartupPhase, board: &StatusBoard) -> TrainSummary {
    let message = format!("stopped on request during start-up, while {phase}; nothing was trained");
    tracing::info!(%phase, "{message}");
    board.update(|s| (s.state, s.startup_phase, s.message) = (RunState::Stopped, Some(phase), Some(message)));
    board.persist();
    let status = board.snapshot();
    TrainSummary {
        steps: status.step,
        last_checkpoint: status.last_checkpoint,
        stopped_by_signal: true,
        images_per_second: 0.0,
        data_wait_fraction: 0.0,
        already_finished: false,
        stopped_during_startup: Some(phase),
        requeued: None,
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
        s.startup_phase = None;
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
        stopped_during_startup: None,
        requeued: None,
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
    /// Installed first thing: start-up's safe points and, later, the loop read them.
    signals: Signals,
    options: TrainOptions,
}

/// Checks the inputs and the device, loads the data, the checkpoint to resume and the teacher,
/// and starts every stage and the status server (if configured), with a safe point between each
/// of these phases (`steps`).
fn start<'a>(starting: Start<'a>, board: StatusBoard, steps: &StartupSteps) -> Result<Started<'a>, DaemonError> {
    let Start { config, config_path, run_dir, checkpoints_dir, replica, signals, options } = starting;
    let device_spec = replica.device(config.run.device);
    replica.batch(&config)?; // fails fast on a global batch the ranks cannot share
    if let Some(why) = device_spec.missing_here() {
        return Err(StartupError::DeviceMissing(why).into());
    }
    let device = device_spec.to_tch();
    if matches!(config.run.device, DeviceSpec::Cuda(_)) {
        // Autotuned convolution algorithms: the shapes of a training run never change.
        tch::Cuda::cudnn_set_benchmark(config.precision.cudnn_benchmark);
    }
    if config.teacher.own_stream && !matches!(device_spec, DeviceSpec::Cuda(_)) {
        tracing::warn!("teacher.own_stream has no effect on the CPU: there are no streams to separate");
    }
    config.fault_injection.announce();
    steps.enter(StartupPhase::OpeningData)?;
    // What `lgd check-config` reports, here fatal: every input, named by its field, before any loads.
    let inputs = config.inputs_here();
    if !inputs.is_empty() {
        return Err(StartupError::Inputs(inputs).into());
    }
    let source = open_training_data(&config)?;
    let per_epoch = steps_per_epoch(source.len(), config.data.batch_size); // global batches
    if per_epoch == 0 {
        let (path, images, batch) = (config.data.train.clone(), source.len(), config.data.batch_size);
        return Err(StartupError::FewerThanOneBatch { path, images, batch }.into());
    }
    let classes = source.classes().len();
    let data_shape = DataShape { samples: source.len() as u64, classes: classes as u64 };
    steps.enter(StartupPhase::ValidationSet)?;
    let validation = match &config.data.val {
        // Rank 0 validates; the other ranks wait for it in their next collective.
        Some(root) if replica.leads() && (config.validation.every_epochs > 0 || config.validation.every_steps > 0) => {
            let a = &config.augmentation;
            let set =
                ValidationSet::load(root, a.eval_resize, a.eval_crop, a.mean, a.std, config.validation.max_images)
                    .map_err(StartupError::from)?;
            tracing::info!(root = %root.display(), images = set.len(), "validation set (decoded at each validation)");
            Some(set)
        }
        None if replica.leads() => {
            tracing::info!("no validation: data.val is not set");
            None
        }
        _ => None,
    };
    steps.enter(StartupPhase::CheckingCheckpoint)?;
    let terms = ResumeTerms { data: data_shape, steps_per_epoch: per_epoch, accept_changes: options.accept_changes };
    let resumed = checkpoint_to_resume(&config, checkpoints_dir, &terms)?;
    if let Some((path, state)) = resumed.as_ref().filter(|(_, state)| state.epoch >= config.schedule.epochs as u64) {
        let (step, epoch, epochs) = (state.step, state.epoch, config.schedule.epochs);
        return Ok(Started::AlreadyFinished(EndedAt { checkpoint: path.clone(), step, epoch, epochs }));
    }
    // A stop asked for until here leaves the run folder as it was, but for the status.
    steps.safe_point(StartupPhase::CheckingCheckpoint)?;
    // Accepted: from here this start writes into the run folder (a refused one wrote nothing).
    claim_run_dir(run_dir, &config)?;
    // Before the teacher: a port already taken fails at once, not after minutes of loading.
    let status_server = config
        .status
        .socket_addr()
        .filter(|_| replica.leads())
        .map(|addr| StatusServer::start(addr, run_dir, board.clone(), signals.clone()));
    let status_server = status_server.transpose().map_err(StartupError::StatusServer)?;
    steps.enter(StartupPhase::LoadingTeacher)?;
    let teacher = load_teacher(&config, run_dir, device, steps)?;
    steps.enter(StartupPhase::BuildingTrainer)?;
    let mut trainer =
        Trainer::new(&config, teacher, per_epoch, device, topology::bank_maintenance).map_err(StartupError::from)?;
    if let Some(resumed) = resumed {
        resume(&mut trainer, resumed)?;
    }
    steps.enter(StartupPhase::JoiningGroup)?;
    replica.join(&mut trainer, &config)?;
    steps.enter(StartupPhase::StartingStages)?;
    let metrics = MetricsWriter::open(run_dir, config.logging.tensorboard, trainer.step).map_err(StartupError::from)?;
    let path = metrics.path().to_owned();
    let metrics = topology::metrics_writer(metrics)
        .map_err(|source| DaemonError::Thread { actor: lgd_actors::metrics_writer::NAME.0, source })?;
    let metrics = MetricsSink::new(metrics, path);
    // From where the trainer stands: a resume under another batch size or data moved its position.
    let epochs_left = (config.schedule.epochs as u64).saturating_sub(trainer.epoch);
    let total_steps = trainer.step + (epochs_left * per_epoch).saturating_sub(trainer.step_in_epoch);
    board.update(|s| {
        (s.state, s.step, s.epoch, s.total_steps, s.steps_per_epoch) =
            (RunState::Training, trainer.step, trainer.epoch, total_steps, per_epoch);
        s.startup_phase = None; // a stop request from here is the loop's, at its first step boundary
    });
    board.persist();
    tracing::info!(run = %run_dir.display(), steps_per_epoch = per_epoch, start_step = trainer.step, "training");
    let control = Control::new(signals, config_path, config.run.watch_config);
    let teacher_replay = TeacherReplay::open(run_dir, &config, source.len(), trainer.teacher().embed_dim())?
        .map(|r| Arc::new(Mutex::new(r)));
    let parts = StageParts {
        source: source.clone(),
        replica: replica.clone(),
        teacher: trainer.teacher().clone(),
        device,
        precision: trainer.forward_precision(),
        replay: teacher_replay.clone(),
    };
    let data = DataStages::start(parts, &config, (trainer.epoch, trainer.step_in_epoch))?;
    let start_step = trainer.step;
    let student = StudentStage::start(trainer, &config, topology::student_optimisation)?;
    let writer = topology::checkpoint_writer(config.pipeline.checkpoint_requests)
        .map_err(|source| DaemonError::Thread { actor: lgd_actors::checkpoint_writer::NAME.0, source })?;
    let checkpoints = Checkpointer::new(run_dir, start_step, writer, data_shape);
    let leads = replica.leads();
    let session = Session::new(SessionParts {
        run_dir,
        config,
        student,
        source,
        data,
        validation,
        classes,
        device,
        teacher_replay,
        control,
        metrics,
        board,
        checkpoints,
        total_steps,
        leads,
    });
    Ok(Started::Session(Box::new(session), status_server))
}

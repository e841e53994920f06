//! The training loop of the daemon. Start-up checks fail fast with one line naming the culprit;
//! after that the loop only stops at a step boundary — planned end, SIGTERM/SIGINT, or an error —
//! and always leaves a consistent checkpoint behind.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lgd_actors::data_pipeline::{DataPipeline, DataPlan};
use lgd_actors::decode_worker::WorkerContext;
use lgd_actors::sampler::steps_per_epoch;
use lgd_actors::source::SampleSource;
use lgd_datasets::augment::pipeline::Augmenter;
use lgd_datasets::decode::DecodeOptions;
use lgd_datasets::image_folder::ImageFolder;
use lgd_datasets::packed::PackedDataset;
use serde_json::json;
use tch::Tensor;

use super::metrics::MetricsWriter;
use super::reload::{reload, ReloadOutcome};
use super::signals::Signals;
use super::{load_teacher, AnyTeacher, DaemonError};
use crate::checkpoint::{checkpoint_path, newest_valid, prune, TrainingState};
use crate::config::{Config, DataFormat, DeviceSpec, ResumePolicy};
use crate::eval::ValidationSet;
use crate::models::teacher::Teacher;
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
}

fn startup(message: impl Into<String>) -> DaemonError {
    DaemonError::Startup(message.into())
}

fn prepare_run_dir(run_dir: &Path) -> Result<(), DaemonError> {
    std::fs::create_dir_all(run_dir).map_err(|e| startup(format!("run folder {}: {e}", run_dir.display())))?;
    let probe = run_dir.join(".lgd-write-probe");
    std::fs::write(&probe, b"ok").map_err(|e| startup(format!("run folder {} is not writable: {e}", run_dir.display())))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

fn save(trainer: &Trainer<AnyTeacher>, run_dir: &Path, keep_last: usize) -> Option<PathBuf> {
    let path = checkpoint_path(run_dir, trainer.step);
    match trainer.state().save(&path) {
        Ok(()) => {
            if let Err(e) = prune(run_dir, keep_last) {
                tracing::warn!("could not prune old checkpoints: {e}");
            }
            tracing::info!(step = trainer.step, path = %path.display(), "checkpoint written");
            Some(path)
        }
        Err(e) => {
            tracing::error!("checkpoint at step {} failed, the previous one is intact: {e}", trainer.step);
            None
        }
    }
}

fn resume(trainer: &mut Trainer<AnyTeacher>, config: &Config, run_dir: &Path) -> Result<(), DaemonError> {
    let state = match &config.checkpoint.resume {
        ResumePolicy::Never => {
            if let Some(existing) = crate::checkpoint::list_checkpoints(run_dir).last() {
                return Err(startup(format!(
                    "checkpoint.resume = \"never\" but {} exists: use another run folder or resume = \"auto\"",
                    existing.display()
                )));
            }
            None
        }
        ResumePolicy::Auto => {
            let (found, skipped) = newest_valid(run_dir);
            for error in skipped {
                tracing::warn!("skipping a broken checkpoint: {error}");
            }
            found.map(|(path, state)| {
                tracing::info!(path = %path.display(), step = state.step, "resuming");
                state
            })
        }
        ResumePolicy::File(path) => Some(TrainingState::load(path).map_err(|e| startup(e.to_string()))?),
    };
    if let Some(state) = state {
        trainer.restore(state).map_err(|e| startup(format!("cannot resume: {e}")))?;
    }
    Ok(())
}

/// Runs `config_path` in `run_dir` until its last epoch or a stop signal.
pub fn train(config_path: &Path, run_dir: &Path) -> Result<TrainSummary, DaemonError> {
    let mut config = Config::load(config_path).map_err(|e| startup(e.to_string()))?;
    prepare_run_dir(run_dir)?;
    std::fs::write(run_dir.join("config.toml"), config.to_toml()).map_err(|e| startup(format!("{}: {e}", run_dir.display())))?;
    if let DeviceSpec::Cuda(index) = config.run.device {
        if (index as i64) >= tch::Cuda::device_count() {
            return Err(startup(format!("run.device = \"cuda:{index}\" but this process sees {} CUDA devices (see `lgd info`)", tch::Cuda::device_count())));
        }
    }
    let device = config.run.device.to_tch();
    let folder: Arc<dyn SampleSource> = match config.data.format {
        DataFormat::Folder => Arc::new(ImageFolder::open(&config.data.train).map_err(|e| startup(format!("data.train: {e}")))?),
        DataFormat::Packed => {
            if config.data.val.is_some() {
                return Err(startup("data.val: validation reads image folders only; with data.format = \"packed\" leave data.val unset"));
            }
            Arc::new(PackedDataset::open(&config.data.train).map_err(|e| startup(format!("data.train: {e}")))?)
        }
    };
    let samples = folder.len();
    let per_epoch = steps_per_epoch(samples, config.data.batch_size);
    if per_epoch == 0 {
        return Err(startup(format!(
            "data.train: {} has {} images, fewer than one batch of {}",
            config.data.train.display(),
            folder.len(),
            config.data.batch_size
        )));
    }
    let teacher = load_teacher(&config, run_dir, device)?;
    let classes = folder.classes().len();
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
    let augmenter = Augmenter::new(config.augmentation.clone()).map_err(|e| startup(e.to_string()))?;
    let size = config.augmentation.output_size;
    let batch = config.data.batch_size;
    let context = WorkerContext { source: folder, augmenter, decode: DecodeOptions::default(), seed: config.run.seed };
    let plan = DataPlan {
        batch,
        image_size: size,
        start_epoch: trainer.epoch,
        start_step: trainer.step_in_epoch,
        epochs: config.schedule.epochs as u64,
        seed: config.run.seed,
    };
    let pipeline = DataPipeline::start(context, plan, &config.pipeline);
    let mut metrics = MetricsWriter::open(run_dir).map_err(|e| startup(format!("{}: {e}", run_dir.display())))?;
    tracing::info!(run = %run_dir.display(), steps_per_epoch = per_epoch, start_step = trainer.step, "training");

    let (mut waiting, mut computing) = (Duration::ZERO, Duration::ZERO);
    let (mut last_checkpoint, mut saved_at, mut stopped) = (None, trainer.step, false);
    let started_at = trainer.step;
    let validate = |trainer: &Trainer<AnyTeacher>, metrics: &mut MetricsWriter| {
        if let Some(set) = &validation {
            let matches = trainer.teacher().bank().classes() as usize == classes;
            let result = set.evaluate(trainer.student(), trainer.teacher(), matches, device);
            tracing::info!(
                step = trainer.step,
                agreement = result.agreement,
                student_top1 = ?result.student_top1,
                teacher_top1 = ?result.teacher_top1,
                images = result.images,
                "validation"
            );
            let _ = metrics.record(&json!({ "step": trainer.step, "validation": result }));
        }
    };
    if trainer.step == 0 {
        validate(&trainer, &mut metrics);
    }
    let mut reported_bad = std::collections::HashSet::new();
    let outcome = loop {
        let requests = signals.take();
        if requests.reload {
            match reload(config_path, &config) {
                ReloadOutcome::Applied(new, diff) => {
                    tracing::info!(changes = %diff.join("; "), "config reloaded");
                    trainer.apply_reloadable(&new);
                    config = new;
                }
                ReloadOutcome::Unchanged => tracing::info!("config reloaded: no change"),
                ReloadOutcome::Refused(fields) => {
                    tracing::warn!(fields = %fields.join(", "), "reload refused: these fields cannot change while training; old config kept")
                }
                ReloadOutcome::Invalid(error) => tracing::error!("reload failed, old config kept: {error}"),
            }
        }
        if requests.stop {
            stopped = true;
            break Ok(());
        }
        if requests.checkpoint && saved_at != trainer.step {
            last_checkpoint = save(&trainer, run_dir, config.checkpoint.keep_last).or(last_checkpoint);
            saved_at = trainer.step;
        }
        let wait_start = Instant::now();
        let Some(next) = pipeline.next() else { break Ok(()) };
        waiting += wait_start.elapsed();
        let host = match next {
            Ok(host) => host,
            Err(error) => break Err(DaemonError::Training(format!("data pipeline: {error}"))),
        };
        for (path, reason) in &host.bad {
            if reported_bad.insert(path.clone()) {
                tracing::warn!("bad sample replaced: {reason}");
                let _ = metrics.bad_sample(path, reason);
            }
        }
        if reported_bad.len() as f64 > config.data.max_bad_fraction * samples as f64 {
            break Err(DaemonError::Training(format!(
                "{} of {samples} training files could not be used, more than data.max_bad_fraction = {}; they are listed in {}",
                reported_bad.len(),
                config.data.max_bad_fraction,
                run_dir.join("bad_samples.txt").display()
            )));
        }
        let compute_start = Instant::now();
        let images = Tensor::from_slice(&host.pixels).reshape([batch as i64, 3, size as i64, size as i64]).to_device(device);
        let report = match trainer.step(&images) {
            Ok(report) => report,
            Err(error) => break Err(DaemonError::Training(error.to_string())),
        };
        if trainer.step % config.logging.every_steps == 0 || trainer.step == 1 {
            let loss = report.loss.double_value(&[]);
            computing += compute_start.elapsed();
            let elapsed = (waiting + computing).as_secs_f64().max(1e-9);
            let images_per_second = ((trainer.step - started_at) as usize * batch) as f64 / elapsed;
            let record = json!({
                "step": trainer.step, "epoch": host.epoch, "loss": loss,
                "image_loss": report.image_loss.double_value(&[]), "text_loss": report.text_loss.double_value(&[]),
                "lr": report.lr, "skipped": report.skipped, "images_per_second": images_per_second,
                "data_wait_fraction": waiting.as_secs_f64() / elapsed, "batches_ready": pipeline.ready(),
            });
            let _ = metrics.record(&record);
            tracing::info!(step = trainer.step, epoch = host.epoch, loss, lr = report.lr, images_per_second, "step");
        } else {
            computing += compute_start.elapsed();
        }
        let validation_due = (config.validation.every_steps > 0 && trainer.step % config.validation.every_steps == 0)
            || (trainer.step_in_epoch == 0
                && config.validation.every_epochs > 0
                && trainer.epoch % config.validation.every_epochs as u64 == 0);
        if validation_due {
            validate(&trainer, &mut metrics);
        }
        let every_steps = config.checkpoint.every_steps;
        let epoch_done = trainer.step_in_epoch == 0 && config.checkpoint.every_epochs > 0 && trainer.epoch % config.checkpoint.every_epochs as u64 == 0;
        if (every_steps > 0 && trainer.step % every_steps == 0) || epoch_done {
            last_checkpoint = save(&trainer, run_dir, config.checkpoint.keep_last).or(last_checkpoint);
            saved_at = trainer.step;
        }
    };
    if saved_at != trainer.step {
        last_checkpoint = save(&trainer, run_dir, config.checkpoint.keep_last).or(last_checkpoint);
    }
    pipeline.shutdown();
    outcome?;
    let total = (waiting + computing).as_secs_f64().max(1e-9);
    let summary = TrainSummary {
        steps: trainer.step,
        last_checkpoint,
        stopped_by_signal: stopped,
        images_per_second: ((trainer.step - started_at) as usize * batch) as f64 / total,
        data_wait_fraction: waiting.as_secs_f64() / total,
    };
    let bound = if summary.data_wait_fraction > 0.5 { "the data pipeline (decode/augment)" } else { "the training step (teacher + student)" };
    tracing::info!(
        steps = summary.steps,
        images_per_second = summary.images_per_second,
        data_wait_fraction = summary.data_wait_fraction,
        metrics = %metrics.path().display(),
        "finished; throughput was bounded by {bound}"
    );
    Ok(summary)
}

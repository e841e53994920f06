//! The linear probe as the original runs it (DESIGN §1): every epoch sees fresh training views —
//! RandomResizedCrop (torchvision's default scale 0.08–1) + horizontal flip, ImageNet
//! normalisation — through the frozen backbone, and the new linear layer is scored on the cached
//! centre-crop features of the test split after each epoch. Views come from the same data
//! pipeline as training (decode workers, seeded per-(epoch, sample) parameters), and after each
//! epoch the layer, its momentum and the history are saved atomically, so an interrupted probe
//! resumes at the next epoch with the numbers it would have had.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lgd_actors::data_pipeline::DataPlan;
use lgd_actors::decode_worker::WorkerContext;
use lgd_actors::pipeline_config::PipelineConfig;
use lgd_actors::sampler::steps_per_epoch;
use lgd_actors::source::open_source;
use lgd_datasets::augment::{AugmentationConfig, Augmenter};
use lgd_datasets::decode::DecodeOptions;
use tch::{Device, Kind, Tensor};

use super::linear_probe::{LinearProbe, ProbeConfig, ProbeEpoch};
use super::measure::Backbone;
use super::EvalError;
use crate::tensor_io::{read_safetensors, write_safetensors};

/// What the training views look like and where the probe keeps its state.
#[derive(Debug, Clone)]
pub struct AugmentedProbeSetup {
    /// The training split (image folder or packed).
    pub train: PathBuf,
    /// Side of the training views (224 in the protocol).
    pub crop: usize,
    /// Normalisation.
    pub mean: [f32; 3],
    /// See `mean`.
    pub std: [f32; 3],
    /// Decode workers.
    pub workers: usize,
    /// The resumable state file (written after every epoch).
    pub state: PathBuf,
    /// Names the backbone (checkpoint file, architecture, …): a saved state of another one is
    /// refused instead of resumed.
    pub backbone: String,
}

/// The training-view recipe of the protocol: crop and flip, nothing photometric.
fn probe_views(setup: &AugmentedProbeSetup) -> AugmentationConfig {
    AugmentationConfig {
        output_size: setup.crop,
        crop_scale: [0.08, 1.0],
        jitter_p: 0.0,
        grayscale_p: 0.0,
        blur_p: 0.0,
        flip_p: 0.5,
        mean: setup.mean,
        std: setup.std,
        ..AugmentationConfig::default()
    }
}

/// Runs (or resumes) the probe; `on_batch` is told each finished step (progress), `on_epoch`
/// each epoch's test figures. A killed probe loses at most the epoch in progress.
#[allow(clippy::too_many_arguments)]
pub fn augmented_probe(
    backbone: &Backbone,
    setup: &AugmentedProbeSetup,
    test: (&Tensor, &Tensor),
    classes: i64,
    config: ProbeConfig,
    device: Device,
    mut on_batch: impl FnMut(u64, u64),
    mut on_epoch: impl FnMut(&ProbeEpoch),
) -> Result<Vec<ProbeEpoch>, EvalError> {
    let source = open_source(&setup.train)
        .map_err(|source| EvalError::Source { what: setup.train.display().to_string(), source: Box::new(source) })?;
    let steps = steps_per_epoch(source.len(), config.batch as usize);
    if steps == 0 {
        return Err(EvalError::TooFewImages { path: setup.train.clone(), images: source.len(), batch: config.batch });
    }
    let augmenter = Augmenter::new(probe_views(setup))?;
    let features = backbone
        .features(&Tensor::zeros([1, 3, setup.crop as i64, setup.crop as i64], (Kind::Float, device)))
        .size()[1];
    let mut probe = LinearProbe::new(features, classes, config, steps, device);
    let identity = fingerprint(&setup.backbone, features, classes, &config);
    let mut history = resume(&mut probe, &setup.state, &identity)?;
    let start_epoch = history.len() as u64;
    if start_epoch >= config.epochs {
        return Ok(history);
    }
    let context = WorkerContext {
        source: Arc::clone(&source),
        augmenter,
        decode: DecodeOptions::default(),
        seed: config.seed as u64,
        view_epochs: None,
    };
    let plan = DataPlan {
        batch: config.batch as usize,
        image_size: setup.crop,
        start_epoch,
        start_step: 0,
        epochs: config.epochs,
        seed: config.seed as u64,
        shard: lgd_actors::sampler::Shard::WHOLE,
        memory: Arc::new(lgd_actors::batch_memory::Heap), // the probe reads the floats on the host
    };
    let sizing = PipelineConfig { decode_workers: setup.workers, ..PipelineConfig::default() };
    let pipeline = crate::daemon::topology::data_pipeline(context, plan, &sizing);
    let side = setup.crop as i64;
    while let Some(batch) = pipeline.next() {
        let batch = batch?;
        let pixels = batch.pixels.normalized().expect("the probe's views are normalised on the host");
        let images = Tensor::from_slice(pixels).reshape([-1, 3, side, side]).to_device(device);
        let labels = Tensor::from_slice(&batch.labels.iter().map(|&l| l as i64).collect::<Vec<_>>()).to_device(device);
        probe.train_step(&backbone.features(&images), &labels, batch.epoch, batch.step_in_epoch);
        on_batch(batch.epoch, batch.step_in_epoch + 1);
        if batch.step_in_epoch + 1 == steps {
            let (top1, top5) = probe.evaluate(test.0, test.1);
            let result = ProbeEpoch { epoch: batch.epoch + 1, top1, top5 };
            history.push(result);
            save(&probe, &setup.state, &history, &identity)?;
            on_epoch(&result);
        }
    }
    pipeline.shutdown();
    Ok(history)
}

/// What must match for a saved state to be resumed.
fn fingerprint(backbone: &str, features: i64, classes: i64, config: &ProbeConfig) -> String {
    format!(
        "backbone={backbone} features={features} classes={classes} epochs={} batch={} warmup={} seed={}",
        config.epochs, config.batch, config.warmup_epochs, config.seed
    )
}

fn save(probe: &LinearProbe, path: &Path, history: &[ProbeEpoch], identity: &str) -> Result<(), EvalError> {
    let state = probe.state();
    let named: Vec<(&str, &Tensor)> = state.iter().map(|(k, t)| (k.as_str(), t)).collect();
    let metadata = HashMap::from([
        ("history".to_owned(), serde_json::to_string(history).expect("plain numbers")),
        ("fingerprint".to_owned(), identity.to_owned()),
    ]);
    Ok(write_safetensors(path, &named, &metadata)?)
}

/// The epochs already done (none without a state file); the probe is loaded with their state.
fn resume(probe: &mut LinearProbe, path: &Path, expected: &str) -> Result<Vec<ProbeEpoch>, EvalError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let file = read_safetensors(path)?;
    let found = file.metadata.get("fingerprint").map(String::as_str).unwrap_or("none");
    let expected = expected.to_owned();
    if found != expected {
        return Err(EvalError::ProbeMismatch { path: path.to_owned(), found: found.to_owned(), expected });
    }
    let history: Vec<ProbeEpoch> =
        serde_json::from_str(file.metadata.get("history").map(String::as_str).unwrap_or("[]"))
            .map_err(|source| EvalError::ProbeHistory { path: path.to_owned(), source })?;
    let tensors: BTreeMap<String, Tensor> = file.tensors;
    probe.load_state(&tensors).map_err(|source| EvalError::ProbeState { path: path.to_owned(), source })?;
    tracing::info!(state = %path.display(), epochs_done = history.len(), "linear probe resumed");
    Ok(history)
}

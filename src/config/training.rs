//! `[data]`, `[optimizer]`, `[schedule]` and `[precision]`: what is trained on, and how fast.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::problems::Problems;

/// How the training images are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataFormat {
    /// `root/<class>/<image>` folders, classes in sorted order (torchvision ImageFolder).
    Folder,
    /// Shards written by `lgd prepare pack`, read through memory maps.
    Packed,
}

/// `[data]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// Training split.
    pub train: PathBuf,
    /// Validation split (zero-shot accuracy and teacher agreement); none = no validation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val: Option<PathBuf>,
    /// Storage format of both splits.
    #[serde(default = "default_format")]
    pub format: DataFormat,
    /// Global batch size, summed over ranks (2048 in the published recipe).
    pub batch_size: usize,
    /// Largest fraction of undecodable training files tolerated (each is replaced and listed in
    /// `bad_samples.txt`), rounded up to whole files: above it the run stops with a checkpoint and
    /// an error. Rounded up, any fraction above 0 tolerates one bad file, so a single bad file
    /// never stops a run, however small its data; a dataset that is broken wholesale (an
    /// unmounted share, a bad copy) still does.
    #[serde(default = "default_max_bad_fraction")]
    pub max_bad_fraction: f64,
    /// Largest width·height a training image may declare; a larger one is a bad file (the
    /// decompression-bomb guard). Raise it for genuine images that large.
    #[serde(default = "default_max_pixels")]
    pub max_pixels: u64,
}

fn default_max_bad_fraction() -> f64 {
    0.01
}

fn default_max_pixels() -> u64 {
    lgd_datasets::decode::DEFAULT_MAX_PIXELS
}

impl DataSection {
    /// How many bad training files `max_bad_fraction` tolerates out of `samples`.
    pub fn bad_files_allowed(&self, samples: usize) -> usize {
        // The small margin keeps 0.07 · 100 = 7.000000000000001 at 7.
        (self.max_bad_fraction * samples as f64 - 1e-9).ceil().max(0.0) as usize
    }
}

fn default_format() -> DataFormat {
    DataFormat::Folder
}

/// Only SGD is in the published recipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// SGD with momentum, weight decay added to the gradient (torch.optim.SGD semantics).
    Sgd,
}

/// `[optimizer]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimizerSection {
    /// The optimiser.
    pub kind: OptimizerKind,
    /// Base learning rate at `reference_batch` (0.03); the run uses lr · batch_size / reference_batch.
    pub lr: f64,
    /// The batch size `lr` is quoted for (256).
    pub reference_batch: usize,
    /// Momentum (0.9).
    pub momentum: f64,
    /// L2 weight decay on all parameters (1e-4).
    pub weight_decay: f64,
    /// Nesterov momentum (off in the published recipe).
    pub nesterov: bool,
}

impl Default for OptimizerSection {
    fn default() -> Self {
        Self {
            kind: OptimizerKind::Sgd,
            lr: 0.03,
            reference_batch: 256,
            momentum: 0.9,
            weight_decay: 1e-4,
            nesterov: false,
        }
    }
}

/// When the learning rate changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleGranularity {
    /// Every step, with fractional epochs (smoother; the default).
    PerStep,
    /// Once per epoch, as the published code does.
    PerEpoch,
}

/// `[schedule]`: linear warm-up, then lr = scaled · ½(1 + cos(π · epoch / epochs)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleSection {
    /// Training epochs (200 or 90 in the paper).
    pub epochs: u32,
    /// Warm-up epochs (5).
    pub warmup_epochs: u32,
    /// Learning rate at the start of warm-up; the base (unscaled) lr when absent, as published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warmup_start_lr: Option<f64>,
    /// Per step or per epoch.
    pub granularity: ScheduleGranularity,
}

impl Default for ScheduleSection {
    fn default() -> Self {
        Self { epochs: 200, warmup_epochs: 5, warmup_start_lr: None, granularity: ScheduleGranularity::PerStep }
    }
}

/// Arithmetic precision of the forward and backward passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Autocast {
    /// Full float32.
    Fp32,
    /// float16 autocast with a dynamic gradient scaler (the published recipe).
    Fp16,
    /// bfloat16 autocast; no scaler needed.
    Bf16,
}

/// `[precision.grad_scaler]`: PyTorch GradScaler's dynamic loss scaling, for fp16.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GradScalerSection {
    /// Initial scale (65536).
    pub init_scale: f64,
    /// Factor after `growth_interval` finite steps (2).
    pub growth_factor: f64,
    /// Factor after a step with inf/NaN gradients, which is skipped (0.5).
    pub backoff_factor: f64,
    /// Finite steps between growths (2000).
    pub growth_interval: u32,
}

impl Default for GradScalerSection {
    fn default() -> Self {
        Self { init_scale: 65536.0, growth_factor: 2.0, backoff_factor: 0.5, growth_interval: 2000 }
    }
}

/// `[precision]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrecisionSection {
    /// fp32, fp16 or bf16.
    pub autocast: Autocast,
    /// channels_last inputs and weights (2.3× faster ResNet-18 steps on an H200).
    pub channels_last: bool,
    /// cudnn autotuning for fixed input shapes.
    pub cudnn_benchmark: bool,
    /// Loss scaling for fp16.
    pub grad_scaler: GradScalerSection,
}

impl Default for PrecisionSection {
    fn default() -> Self {
        Self {
            autocast: Autocast::Bf16,
            channels_last: true,
            cudnn_benchmark: true,
            grad_scaler: GradScalerSection::default(),
        }
    }
}

impl DataSection {
    pub(super) fn validate(&self, problems: &mut Problems) {
        problems.require(!self.train.as_os_str().is_empty(), "data.train", "must name the training split");
        problems.require(self.batch_size >= 1, "data.batch_size", "must be >= 1");
        problems.require((0.0..=1.0).contains(&self.max_bad_fraction), "data.max_bad_fraction", "must be in [0, 1]");
        problems.require(self.max_pixels >= 1, "data.max_pixels", "must be >= 1");
    }
}

impl OptimizerSection {
    pub(super) fn validate(&self, problems: &mut Problems) {
        problems.require(self.lr.is_finite() && self.lr > 0.0, "optimizer.lr", "must be > 0");
        problems.require(self.reference_batch >= 1, "optimizer.reference_batch", "must be >= 1");
        problems.require((0.0..1.0).contains(&self.momentum), "optimizer.momentum", "must be in [0, 1)");
        problems.require(
            self.weight_decay.is_finite() && self.weight_decay >= 0.0,
            "optimizer.weight_decay",
            "must be >= 0",
        );
        problems.require(!self.nesterov || self.momentum > 0.0, "optimizer.nesterov", "needs optimizer.momentum > 0");
    }
}

impl ScheduleSection {
    pub(super) fn validate(&self, problems: &mut Problems) {
        problems.require(self.epochs >= 1, "schedule.epochs", "must be >= 1");
        problems.require(
            self.warmup_epochs <= self.epochs,
            "schedule.warmup_epochs",
            format!("must be <= schedule.epochs ({})", self.epochs),
        );
        if let Some(lr) = self.warmup_start_lr {
            problems.require(lr.is_finite() && lr >= 0.0, "schedule.warmup_start_lr", "must be >= 0");
        }
    }
}

impl PrecisionSection {
    pub(super) fn validate(&self, problems: &mut Problems) {
        let scaler = &self.grad_scaler;
        problems.require(scaler.init_scale > 0.0, "precision.grad_scaler.init_scale", "must be > 0");
        problems.require(scaler.growth_factor > 1.0, "precision.grad_scaler.growth_factor", "must be > 1");
        problems.require(
            scaler.backoff_factor > 0.0 && scaler.backoff_factor < 1.0,
            "precision.grad_scaler.backoff_factor",
            "must be in (0, 1)",
        );
        problems.require(scaler.growth_interval >= 1, "precision.grad_scaler.growth_interval", "must be >= 1");
    }
}

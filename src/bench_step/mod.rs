//! `lgd bench step`: the speed of the real training step ([`Trainer::step`]) alone, with no data
//! path: random normalised images made once on the device, a CLIP teacher of the real shape with
//! random weights, a random text bank. Its PyTorch twin, `scripts/bench_step_torch.py`, computes the
//! same step in eager PyTorch, so the two figures on one machine compare the step implementations.
//!
//! Timing: `warmup` steps first (cudnn autotuning, allocator growth), then one device
//! synchronisation, `steps` steps, one synchronisation. The step itself reads the loss back once to
//! refuse non-finite values; that read is part of what is measured, as it is in training.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;
use tch::{Device, Kind, Tensor};

use crate::config::{Autocast, Config, ConfigError, DeviceSpec, StudentArch};
use crate::daemon::topology::bank_maintenance;
use crate::models::clip::{Clip, ClipConfig, LoadOptions};
use crate::models::teacher::{ClipTeacher, Teacher};
use crate::objective::{BankError, TextBank};
use crate::train::{StepReport, Trainer, TrainerError};

/// The teacher's shape; weights are random either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum TeacherShape {
    /// OpenAI's CLIP RN50 image tower: 224 px, D = 1024 (the published recipe's teacher).
    ClipRn50,
    /// The 64-px one-block-per-stage tower of the tests (D = 32): a fast CPU check.
    Tiny,
}

impl TeacherShape {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::ClipRn50 => "clip-rn50",
            Self::Tiny => "tiny",
        }
    }

    /// The CLIP architecture of this shape.
    pub fn clip_config(self) -> ClipConfig {
        match self {
            Self::ClipRn50 => ClipConfig::rn50(),
            Self::Tiny => ClipConfig::tiny_rn(),
        }
    }
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct StepBenchOptions {
    /// Where the step runs.
    pub device: DeviceSpec,
    /// Images per step.
    pub batch: usize,
    /// Timed steps.
    pub steps: usize,
    /// Untimed steps before them.
    pub warmup: usize,
    /// Autocast dtype (fp16 brings the gradient scaler, as in training).
    pub precision: Autocast,
    /// channels_last inputs and student weights.
    pub channels_last: bool,
    /// The teacher's architecture.
    pub teacher: TeacherShape,
    /// The student backbone.
    pub student: StudentArch,
    /// C, the number of categories in the banks (1000: ImageNet).
    pub classes: i64,
}

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchStepError {
    /// The options make an invalid training config (e.g. fp16 on the CPU).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The trainer could not be built or a step failed.
    #[error(transparent)]
    Trainer(#[from] TrainerError),
    /// The random bank did not fit the teacher.
    #[error(transparent)]
    Bank(#[from] BankError),
    /// A CUDA device was asked for and is not there.
    #[error("--device {device}: this libtorch sees {visible} CUDA device(s)")]
    NoDevice {
        /// The device asked for.
        device: DeviceSpec,
        /// CUDA devices visible.
        visible: i64,
    },
    /// A timed step produced a non-finite loss, so it did not do a whole step's work.
    #[error("{count} of the {steps} timed steps had a non-finite loss; the figure would not measure whole steps")]
    NonFinite {
        /// Steps that were non-finite.
        count: usize,
        /// Timed steps.
        steps: usize,
    },
}

/// The measured figures and the configuration they belong to (printed, or written as JSON).
#[derive(Debug, Clone, Serialize)]
pub struct StepBenchReport {
    /// Which implementation measured: always `lgd` here (`torch-original`/`torch-best` in the twin).
    pub side: &'static str,
    /// Where it ran.
    pub device: String,
    /// Teacher shape.
    pub teacher: TeacherShape,
    /// Student backbone (torchvision name).
    pub student: &'static str,
    /// Images per step.
    pub batch: usize,
    /// Timed steps.
    pub steps: usize,
    /// Untimed steps before them.
    pub warmup: usize,
    /// fp32, fp16 or bf16.
    pub precision: Autocast,
    /// channels_last inputs and student weights.
    pub channels_last: bool,
    /// Input side in pixels.
    pub image_size: i64,
    /// D.
    pub embed_dim: i64,
    /// C.
    pub classes: i64,
    /// Timed steps whose optimiser update the fp16 scaler skipped (overflow); they still count.
    pub skipped_steps: usize,
    /// The last step's loss (read after the clock stopped).
    pub final_loss: f64,
    /// Seconds of the timed steps.
    pub seconds: f64,
    /// batch · steps / seconds.
    pub images_per_second: f64,
    /// Milliseconds per step.
    pub ms_per_step: f64,
}

impl std::fmt::Display for StepBenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "lgd bench step: {} teacher {} (D={}, {} px), student {}, {} classes, batch {}, {}{}, {} steps after {} warm-up",
            self.device,
            self.teacher.name(),
            self.embed_dim,
            self.image_size,
            self.student,
            self.classes,
            self.batch,
            precision_name(self.precision),
            if self.channels_last { " channels_last" } else { "" },
            self.steps,
            self.warmup,
        )?;
        write!(
            f,
            "{:.1} img/s, {:.2} ms/step (final loss {:.4}, {} skipped by the scaler)",
            self.images_per_second, self.ms_per_step, self.final_loss, self.skipped_steps
        )
    }
}

/// fp32, fp16 or bf16, as on the command line.
fn precision_name(precision: Autocast) -> &'static str {
    match precision {
        Autocast::Fp32 => "fp32",
        Autocast::Fp16 => "fp16",
        Autocast::Bf16 => "bf16",
    }
}

/// The training config the real trainer is built from; validated like a user's file, so the
/// same combinations are refused (fp16 on the CPU).
pub fn bench_config(options: &StepBenchOptions) -> Result<Config, ConfigError> {
    let origin = Path::new("(lgd bench step)");
    let base = "[data]\ntrain = \"(synthetic images on the device)\"\nbatch_size = 1\n\
                [student]\narch = \"resnet18\"\n\
                [teacher]\nkind = \"clip\"\nweights = \"(random weights)\"\n";
    let mut config = Config::parse(base, origin)?;
    config.run.name = Some("bench-step".into());
    config.run.device = options.device;
    config.data.batch_size = options.batch;
    config.student.arch = options.student;
    config.precision.autocast = options.precision;
    config.precision.channels_last = options.channels_last;
    let problems = config.problems();
    if !problems.is_empty() {
        return Err(ConfigError::Invalid { path: origin.into(), problems });
    }
    Ok(config)
}

/// Waits for every queued kernel, so the clock reads finished work.
fn synchronize(device: Device) {
    if let Device::Cuda(index) = device {
        tch::Cuda::synchronize(index as i64);
    }
}

/// Builds the teacher, banks, student and trainer, then times the steps.
pub fn run(options: &StepBenchOptions) -> Result<StepBenchReport, BenchStepError> {
    let config = bench_config(options)?;
    let device = options.device.to_tch();
    if let Device::Cuda(index) = device {
        let visible = tch::Cuda::device_count();
        if index as i64 >= visible {
            return Err(BenchStepError::NoDevice { device: options.device, visible });
        }
        tch::Cuda::cudnn_set_benchmark(config.precision.cudnn_benchmark);
    }
    tch::manual_seed(config.run.seed as i64);
    let clip_config = options.teacher.clip_config();
    let clip = Clip::random(&clip_config, LoadOptions { device, ..Default::default() });
    let bank = TextBank::random(clip_config.embed_dim, options.classes, device);
    let teacher = ClipTeacher::new(clip, bank)?;
    let (mean, std) = teacher.normalisation();
    let side = clip_config.vision.image_size();
    let total = (options.warmup + options.steps) as u64;
    let mut trainer = Trainer::new(&config, teacher, total.max(1), device, bank_maintenance)?;

    // Pixels uniform in [0, 1], normalised as the pipeline does: what the step sees in training.
    let batch = options.batch as i64;
    let mean = Tensor::from_slice(&mean).to_kind(Kind::Float).to_device(device).view([1, 3, 1, 1]);
    let std = Tensor::from_slice(&std).to_kind(Kind::Float).to_device(device).view([1, 3, 1, 1]);
    let images = (Tensor::rand([batch, 3, side, side], (Kind::Float, device)) - mean) / std; // [B, 3, H, W]

    for _ in 0..options.warmup {
        trainer.step(&images)?;
    }
    synchronize(device);
    let start = Instant::now();
    let mut reports = Vec::with_capacity(options.steps);
    for _ in 0..options.steps {
        reports.push(trainer.step(&images)?);
    }
    synchronize(device);
    let seconds = start.elapsed().as_secs_f64();

    let nonfinite = reports.iter().filter(|r| StepReport::read(&r.nonfinite)).count();
    if nonfinite > 0 {
        return Err(BenchStepError::NonFinite { count: nonfinite, steps: options.steps });
    }
    let final_loss = reports.last().map_or(f64::NAN, |r| r.loss.double_value(&[]));
    Ok(StepBenchReport {
        side: "lgd",
        device: options.device.to_string(),
        teacher: options.teacher,
        student: options.student.torchvision_name(),
        batch: options.batch,
        steps: options.steps,
        warmup: options.warmup,
        precision: options.precision,
        channels_last: options.channels_last,
        image_size: side,
        embed_dim: clip_config.embed_dim,
        classes: options.classes,
        skipped_steps: reports.iter().filter(|r| StepReport::read(&r.skipped)).count(),
        final_loss,
        seconds,
        images_per_second: (options.batch * options.steps) as f64 / seconds,
        ms_per_step: seconds * 1e3 / options.steps as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(device: DeviceSpec, precision: Autocast) -> StepBenchOptions {
        StepBenchOptions {
            device,
            batch: 2,
            steps: 1,
            warmup: 0,
            precision,
            channels_last: false,
            teacher: TeacherShape::Tiny,
            student: StudentArch::Resnet18,
            classes: 10,
        }
    }

    #[test]
    fn fp16_on_the_cpu_is_refused_as_a_config_would_be() {
        let err = bench_config(&options(DeviceSpec::Cpu, Autocast::Fp16)).unwrap_err().to_string();
        assert!(err.contains("precision.autocast"), "{err}");
    }

    #[test]
    fn a_tiny_step_is_timed() {
        let report = run(&options(DeviceSpec::Cpu, Autocast::Fp32)).unwrap();
        assert!(report.images_per_second > 0.0 && report.final_loss.is_finite(), "{report}");
        assert_eq!((report.embed_dim, report.image_size), (32, 64));
    }
}

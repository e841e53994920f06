//! The configuration of a whole training run: one TOML file, read with serde, every section
//! `deny_unknown_fields`, then validated as a whole. Errors name the file and the dotted field path
//! (`optimizer.lr: must be > 0`), all problems at once. Section types live beside what they configure
//! when another crate owns it (augmentation in `lgd-datasets`, pipeline sizing in `lgd-actors`).

mod device;
mod distributed;
mod guards;
mod inputs_here;
mod model;
mod operations;
pub(crate) mod problems;
mod training;
mod value_error;

use std::path::{Path, PathBuf};

use lgd_actors::pipeline_config::PipelineConfig;
use lgd_datasets::augment::AugmentationConfig;
use serde::{Deserialize, Serialize};

pub use crate::fault_injection::FaultInjectionSection;
pub use device::DeviceSpec;
pub use distributed::{BackendChoice, DistributedSection};
pub use guards::{CheckpointFailurePolicy, GuardsSection, StatusSection};
pub use inputs_here::InputsHere;
pub use model::{
    BanksSection, BatchNormMode, LossSection, StudentArch, StudentSection, TeacherKind, TeacherSection, TextBankSource,
};
pub use operations::{CheckpointSection, LoggingSection, RequeueSignal, ResumePolicy, RunSection, ValidationSection};
pub use problems::FieldProblem;
pub use training::{
    Autocast, DataFormat, DataSection, GradScalerSection, OptimizerKind, OptimizerSection, PrecisionSection,
    ScheduleGranularity, ScheduleSection,
};
pub use value_error::ValueError;

use problems::Problems;

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Name, seed, device.
    #[serde(default)]
    pub run: RunSection,
    /// Training and validation data.
    pub data: DataSection,
    /// The student backbone.
    pub student: StudentSection,
    /// The frozen teacher.
    pub teacher: TeacherSection,
    /// Text and visual banks.
    #[serde(default)]
    pub banks: BanksSection,
    /// Temperatures and weights.
    #[serde(default)]
    pub loss: LossSection,
    /// SGD settings.
    #[serde(default)]
    pub optimizer: OptimizerSection,
    /// Epochs, warm-up, cosine.
    #[serde(default)]
    pub schedule: ScheduleSection,
    /// Training views (MoCo-v2 by default) and the evaluation transform.
    #[serde(default)]
    pub augmentation: AugmentationConfig,
    /// Autocast dtype, memory format, gradient scaler.
    #[serde(default)]
    pub precision: PrecisionSection,
    /// Checkpoint cadence, retention, resume.
    #[serde(default)]
    pub checkpoint: CheckpointSection,
    /// Log level and metric cadence.
    #[serde(default)]
    pub logging: LoggingSection,
    /// Validation cadence.
    #[serde(default)]
    pub validation: ValidationSection,
    /// Worker count and channel capacities.
    #[serde(default)]
    pub pipeline: PipelineConfig,
    /// Non-finite losses, data stalls, failed checkpoint writes.
    #[serde(default)]
    pub guards: GuardsSection,
    /// The HTTP status server (off unless an address is given).
    #[serde(default)]
    pub status: StatusSection,
    /// Timeouts and buckets of data-parallel training (used when launched with several ranks).
    #[serde(default)]
    pub distributed: DistributedSection,
    /// Test-only switches that make things fail on purpose.
    #[serde(default, skip_serializing_if = "FaultInjectionSection::any_is_off")]
    pub fault_injection: FaultInjectionSection,
}

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The config file.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// TOML syntax, an unknown field, or a value of the wrong type.
    #[error("{path}: {}{message}", if field.is_empty() { String::new() } else { format!("{field}: ") })]
    Parse {
        /// The config file.
        path: PathBuf,
        /// Dotted path of the field (empty for syntax errors outside any field).
        field: String,
        /// What the parser said, with the line when known.
        message: String,
    },
    /// Values that parse but are not acceptable.
    #[error("{path}: {} invalid value(s):\n{}", problems.len(), problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// Every problem, with its field path.
        problems: Vec<FieldProblem>,
    },
}

impl Config {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        Self::parse(&text, path)
    }

    /// Parses and validates TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        let deserializer = toml::Deserializer::new(text);
        let config: Config = serde_path_to_error::deserialize(deserializer).map_err(|error| {
            let field = error.path().to_string();
            let inner = error.into_inner();
            let line = inner.span().map(|span| 1 + text[..span.start.min(text.len())].matches('\n').count());
            let said = inner.message().trim_end().replace('\n', "; "); // one line
            let message = match line {
                Some(line) => format!("{said} (line {line})"),
                None => said,
            };
            let field = if field == "." { String::new() } else { field };
            ConfigError::Parse { path: origin.into(), field, message }
        })?;
        let problems = config.problems();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid { path: origin.into(), problems })
        }
    }

    /// Every invalid value, with its field path; empty when the config is usable.
    pub fn problems(&self) -> Vec<FieldProblem> {
        let mut problems = Problems::default();
        self.run.validate(&mut problems);
        self.data.validate(&mut problems);
        self.teacher.validate(&mut problems);
        self.banks.validate(self.teacher.kind, &mut problems);
        self.loss.validate(&mut problems);
        self.optimizer.validate(&mut problems);
        self.schedule.validate(&mut problems);
        self.precision.validate(&mut problems);
        self.checkpoint.validate(&mut problems);
        self.logging.validate(&mut problems);
        self.guards.validate(&mut problems);
        self.status.validate(&mut problems);
        self.distributed.validate(&mut problems);
        self.fault_injection.validate(&mut problems);
        problems.extend_section("augmentation", self.augmentation.validate());
        problems.extend_section("pipeline", self.pipeline.validate());
        if self.data.val.is_none() {
            // Fields a user writes only to validate: without a split they would do nothing, silently.
            let v = &self.validation;
            for (field, set) in [
                ("validation.every_steps", v.every_steps > 0),
                ("validation.every_epochs", v.every_epochs > 1),
                ("validation.max_images", v.max_images > 0),
            ] {
                problems.require(
                    !set,
                    field,
                    "is set, but data.val is not: there is no split to validate on (set data.val, or leave it out)",
                );
            }
        }
        if self.run.device == DeviceSpec::Cpu && self.precision.autocast == Autocast::Fp16 {
            problems.require(
                false,
                "precision.autocast",
                "fp16 with a gradient scaler needs a CUDA device; use bf16 or fp32 on cpu",
            );
        }
        if self.run.device == DeviceSpec::Cpu && self.distributed.backend == BackendChoice::Nccl {
            problems.require(false, "distributed.backend", "nccl needs a CUDA device; use gloo (or auto) on cpu");
        }
        problems.into_vec()
    }

    /// The learning rate after linear scaling: lr · batch_size / reference_batch.
    pub fn scaled_lr(&self) -> f64 {
        self.optimizer.lr * self.data.batch_size as f64 / self.optimizer.reference_batch as f64
    }

    /// The config with every default filled in, as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a validated config always serialises")
    }
}

#[cfg(test)]
mod tests;

//! Why an evaluation could not be made; each variant names the file, folder or tensor at fault.

use std::path::PathBuf;

use lgd_actors::data_pipeline::PipelineError;
use lgd_actors::source::OpenSourceError;
use lgd_datasets::augment::InvalidConfig;

use super::linear_probe::ProbeStateError;
use crate::checkpoint::CheckpointError;
use crate::config::ConfigError;
use crate::models::state_dict::StateDictError;
use crate::tensor_io::TensorIoError;

/// Errors of `lgd eval`'s measurements and of validation during training.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The student's checkpoint does not load.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The config stored in the student's checkpoint does not parse.
    #[error("{path}: its config: {source}")]
    CheckpointConfig {
        /// The checkpoint.
        path: PathBuf,
        /// What the config parser said.
        #[source]
        source: Box<ConfigError>,
    },
    /// The checkpoint has no projection head to read the embedding width from.
    #[error("{path}: no `{key}`")]
    NoHead {
        /// The checkpoint.
        path: PathBuf,
        /// The head's last weight.
        key: String,
    },
    /// The student's tensors do not fit its architecture.
    #[error(transparent)]
    Weights(#[from] StateDictError),
    /// The student's embeddings and what they are compared with differ in width.
    #[error("the student embeds to {student} dimensions, {against} to {other}")]
    Width {
        /// The student's width.
        student: i64,
        /// What it is compared with (`the text bank`, `the teacher`).
        against: &'static str,
        /// Its width.
        other: i64,
    },
    /// `--data` lacks one of its two splits.
    #[error("--data: {data} has no `{split}` folder (it takes a folder holding `train/` and `val/`)")]
    MissingSplit {
        /// The folder given.
        data: PathBuf,
        /// `train` or `val`.
        split: &'static str,
    },
    /// An image folder or packed dataset could not be opened.
    #[error("{what}: {source}")]
    Source {
        /// The field or folder it was given as (`data.val`, a path).
        what: String,
        /// Why.
        #[source]
        source: Box<OpenSourceError>,
    },
    /// A validation set without images.
    #[error("data.val: no image in {0}")]
    NoImages(PathBuf),
    /// Not one validation image decoded.
    #[error("none of the {images} validation images could be decoded (the first: {first})")]
    NothingDecoded {
        /// Images in the set.
        images: usize,
        /// The first one's error.
        first: String,
    },
    /// A probe's training split smaller than one batch.
    #[error("{path}: {images} images, fewer than one batch of {batch}")]
    TooFewImages {
        /// The split.
        path: PathBuf,
        /// Its images.
        images: usize,
        /// The probe's batch size.
        batch: i64,
    },
    /// The probe's augmentation is not valid.
    #[error(transparent)]
    Augmentation(#[from] InvalidConfig),
    /// The probe's data pipeline failed.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// A saved probe state from another probe.
    #[error("{path}: saved by a different probe ({found}; this one: {expected}); delete it to start over")]
    ProbeMismatch {
        /// The state file.
        path: PathBuf,
        /// Its fingerprint.
        found: String,
        /// This probe's.
        expected: String,
    },
    /// A saved probe state whose history does not parse.
    #[error("{path}: history: {source}")]
    ProbeHistory {
        /// The state file.
        path: PathBuf,
        /// The JSON parser's words.
        #[source]
        source: serde_json::Error,
    },
    /// A saved probe state whose tensors do not fit.
    #[error("{path}: {source}")]
    ProbeState {
        /// The state file.
        path: PathBuf,
        /// What does not fit.
        #[source]
        source: ProbeStateError,
    },
    /// The probe's state file could not be read or written.
    #[error(transparent)]
    TensorFile(#[from] TensorIoError),
}

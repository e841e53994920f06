//! Errors of the bank files and bank shapes.

use std::path::PathBuf;

use crate::tensor_io::TensorIoError;

/// Why a bank could not be built, loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum BankError {
    /// The bank file could not be read or written.
    #[error(transparent)]
    File(#[from] TensorIoError),
    /// The file holds no tensor under the expected name.
    #[error("{path}: no tensor named `{name}` (found: {found})")]
    MissingTensor {
        /// The file.
        path: PathBuf,
        /// The expected tensor name.
        name: &'static str,
        /// The names present, comma separated.
        found: String,
    },
    /// A tensor has the wrong rank, size or element type.
    #[error("{what}: expected {expected}, got shape {shape:?} of {kind}")]
    Shape {
        /// Which tensor (and file, when there is one).
        what: String,
        /// What was expected, in words.
        expected: String,
        /// The shape found.
        shape: Vec<i64>,
        /// The element type found.
        kind: String,
    },
    /// The bank has another number of columns than the task has category names.
    #[error("{path}: the bank has {bank} classes but the class-name list has {names}")]
    ClassCount {
        /// The bank file.
        path: PathBuf,
        /// Columns in the bank.
        bank: i64,
        /// Names in the list.
        names: usize,
    },
    /// A bank column is not unit length, so it is not a bank of normalised embeddings.
    #[error("{path}: column {column} has L2 norm {norm:.4}, expected 1 (is this a text bank?)")]
    NotNormalised {
        /// The bank file.
        path: PathBuf,
        /// The first offending column.
        column: i64,
        /// Its norm.
        norm: f64,
    },
}

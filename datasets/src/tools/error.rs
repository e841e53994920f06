//! Why a dataset tool failed; every variant names the file or folder at fault.

use std::path::PathBuf;

/// Errors of the dataset tools.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// A folder or file could not be listed, read, linked, copied or written.
    #[error("{path}: {action}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The source root is not a folder.
    #[error("{path}: not a folder")]
    NotAFolder {
        /// The path.
        path: PathBuf,
    },
    /// Fewer category folders than asked for.
    #[error("{root}: {found} category folders, {wanted} needed")]
    TooFewClasses {
        /// The source root.
        root: PathBuf,
        /// Folders found.
        found: usize,
        /// Folders asked for.
        wanted: usize,
    },
    /// A class with too few images for the split.
    #[error("{folder}: {found} images, but {wanted} are needed ({why})")]
    TooFewImages {
        /// The class folder.
        folder: PathBuf,
        /// Images found.
        found: usize,
        /// Images needed.
        wanted: usize,
        /// Why that many.
        why: &'static str,
    },
    /// The output folder exists and holds something.
    #[error("{path}: the output folder is not empty; choose a new one")]
    OutputNotEmpty {
        /// The folder.
        path: PathBuf,
    },
    /// A zero count where at least one is needed.
    #[error("invalid option {option}: {why}")]
    InvalidOption {
        /// The option as on the command line.
        option: &'static str,
        /// Why.
        why: String,
    },
}

impl ToolError {
    /// An [`ToolError::Io`] for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, action: &'static str) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| ToolError::Io { path, action, source }
    }
}

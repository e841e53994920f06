//! Why packing, opening, reading or verifying a packed dataset failed. Every variant names the
//! file, folder or sample at fault, so a user can act on the message alone.

use std::path::PathBuf;

use crate::decode::DecodeError;
use crate::image_folder::FolderError;

use super::jpeg::EncodeError;

/// Errors of the packed format.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// A file or folder could not be read, written, mapped or renamed.
    #[error("{path}: {action}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What was being done ("cannot map", "cannot write", …).
        action: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The source image folder is missing, unreadable or holds no images.
    #[error(transparent)]
    Source(#[from] FolderError),
    /// The folder holds no `index.lgdpack` (not a packed dataset, or a pack that never finished).
    #[error("{dir}: not a packed dataset (no {file}); build one with `lgd prepare pack`{hint}")]
    NotPacked {
        /// The folder.
        dir: PathBuf,
        /// The expected index file name.
        file: &'static str,
        /// A hint when an unfinished pack is there.
        hint: &'static str,
    },
    /// The index does not start with the format's magic bytes.
    #[error("{path}: not an lgd packed index (bad magic bytes)")]
    BadMagic {
        /// The index file.
        path: PathBuf,
    },
    /// An index written by a newer (or unknown) version of the format.
    #[error("{path}: packed format version {found} is not supported (this build reads version {supported})")]
    UnsupportedVersion {
        /// The index file.
        path: PathBuf,
        /// The version in the header.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// A stored CRC-32 does not match the bytes it covers (header or body of the index).
    #[error("{path}: the index {part} is corrupt (CRC-32 stored {stored:08x}, computed {computed:08x})")]
    IndexChecksum {
        /// The index file.
        path: PathBuf,
        /// "header" or "body".
        part: &'static str,
        /// Stored checksum.
        stored: u32,
        /// Checksum of the bytes on disk.
        computed: u32,
    },
    /// The index is structurally inconsistent (a field out of range, a truncated section).
    #[error("{path}: malformed index: {what}")]
    Malformed {
        /// The index file.
        path: PathBuf,
        /// What is wrong, naming the field or record.
        what: String,
    },
    /// A shard's size on disk differs from the size the index recorded (truncated or replaced).
    #[error("{path}: shard is {actual} bytes, the index recorded {expected} (truncated or replaced; run `lgd prepare verify`)")]
    ShardSize {
        /// The shard file.
        path: PathBuf,
        /// Size in the index.
        expected: u64,
        /// Size on disk.
        actual: u64,
    },
    /// A sample index past the end.
    #[error("sample {index} is out of range (the dataset has {len} samples)")]
    OutOfRange {
        /// The requested index.
        index: usize,
        /// The number of samples.
        len: usize,
    },
    /// A sample's bytes extend past the end of its (truncated) shard.
    #[error("sample {index} ({path}): its bytes lie past the end of {shard}")]
    SampleOutsideShard {
        /// The sample.
        index: usize,
        /// Its original path.
        path: String,
        /// The shard file.
        shard: PathBuf,
    },
    /// The output folder already holds a finished pack.
    #[error("{index}: a finished packed dataset is already there; choose another output folder or delete it")]
    AlreadyPacked {
        /// The existing index.
        index: PathBuf,
    },
    /// An unfinished pack in the output folder was started with other settings or another source.
    #[error(
        "{dir}: holds an unfinished pack made with {field} = {was}, now {now}; \
         resume with the same source and options, or delete the folder to start over"
    )]
    ResumeMismatch {
        /// The output folder.
        dir: PathBuf,
        /// The setting that differs.
        field: String,
        /// Its value in the unfinished pack.
        was: String,
        /// Its value now.
        now: String,
    },
    /// A progress record of an unfinished pack cannot be parsed.
    #[error("{path}:{line}: unreadable progress record of an unfinished pack ({what}); delete the output folder to start over")]
    Journal {
        /// The record file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        what: String,
    },
    /// Every source sample was skipped.
    #[error("{source_name}: none of the {skipped} samples could be packed (first: {first})")]
    NothingPacked {
        /// The source (root folder or IDX file).
        source_name: String,
        /// How many were skipped.
        skipped: usize,
        /// The first skipped sample and why.
        first: String,
    },
    /// Packing stopped on purpose after a set number of samples (the resume tests' stand-in for a kill).
    #[error("packing stopped after {processed} samples as asked; run the same command again to resume")]
    Interrupted {
        /// Samples processed in this run before stopping.
        processed: usize,
    },
    /// Options that make no sense (zero shard size, JPEG quality outside 1..=100).
    #[error("invalid option {option}: {why}")]
    InvalidOption {
        /// The option name as on the command line.
        option: &'static str,
        /// Why.
        why: String,
    },
}

/// Why one source sample was left out of a pack (it is skipped and listed, the build goes on).
/// Every variant names the sample.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    /// The sample's file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// An IDX image could not be rendered as PNG.
    #[error("{name}: cannot PNG-encode: {source}")]
    Png {
        /// The sample (`<images file>#<index>`).
        name: String,
        /// The encoder's error.
        source: image::ImageError,
    },
    /// The bytes do not decode as the training path would decode them.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The decoded image could not be re-encoded as JPEG.
    #[error("{name}: cannot encode as JPEG: {source}")]
    Jpeg {
        /// The sample.
        name: String,
        /// The encoder's error.
        source: EncodeError,
    },
    /// A single encoded sample of 4 GiB or more (the index stores lengths as u32).
    #[error("{name}: {len} bytes is too large for one sample (limit 4 GiB)")]
    TooLarge {
        /// The sample.
        name: String,
        /// Its encoded length.
        len: usize,
    },
    /// The decoder panicked: the file is skipped rather than the build.
    #[error("{name}: the decoder panicked on this file")]
    Panicked {
        /// The sample.
        name: String,
    },
    /// The worker thread preparing the sample died outside the decoder.
    #[error("{name}: the worker thread died")]
    WorkerDied {
        /// The sample.
        name: String,
    },
}

impl PackError {
    /// An [`PackError::Io`] for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, action: &'static str) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| PackError::Io { path, action, source }
    }
}

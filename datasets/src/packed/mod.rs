//! The packed dataset format: a folder of shard files holding encoded images back to back, and one
//! index (`index.lgdpack`) that says where each sample lies, its label, its CRC-32 and the file it
//! came from. Reading maps the files (memmap2) instead of opening millions of small files, which
//! is what makes a dataset on network storage or a cold disk fast to read at random.
//!
//! Module map:
//! - [`format`]: the index layout (header, class names, shard table, fixed-size records, paths).
//! - [`reader`]: [`PackedDataset`], a finished pack mapped for reading.
//! - [`source`]: what a pack is built from ([`SampleSource`]; image folders via [`FolderSource`]).
//! - [`encode`]: per-sample check (must decode) and optional resize + JPEG re-encoding.
//! - [`jpeg`]: the JPEG encoder (libjpeg-turbo), 4:2:0 or 4:4:4 chroma.
//! - [`sampling`]: a JPEG's chroma sampling factors, read from its frame header.
//! - [`journal`]: progress records that make an interrupted build resumable.
//! - [`pack`]: the build itself.
//! - [`verify`]: every sample against its checksum.
//! - [`error`]: the errors: [`PackError`] for a build or a read, [`SampleError`] for one skipped sample.

pub mod encode;
pub mod error;
pub mod format;
pub mod journal;
pub mod jpeg;
pub mod pack;
pub mod reader;
pub mod sampling;
pub mod source;
pub mod verify;

pub use error::{PackError, SampleError};
pub use format::{Chroma, Encoding};
pub use pack::{pack, PackOptions, PackSummary, Progress, Skipped};
pub use reader::PackedDataset;
pub use source::{FolderSource, SampleSource};
pub use verify::{verify, VerifyReport};

#[cfg(test)]
mod tests;

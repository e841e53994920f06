//! `lgd prepare verify`: reads every sample of a pack and checks it against its CRC-32, so a
//! damaged copy (bit rot, a truncated transfer) is found before a training run trips on it, and
//! each bad sample is reported with the original file it came from, which can be packed again.

use std::path::{Path, PathBuf};

use super::error::PackError;
use super::reader::PackedDataset;

/// A sample whose bytes do not match its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadSample {
    /// Index in the pack.
    pub index: usize,
    /// The original path it was packed from.
    pub path: String,
    /// What is wrong.
    pub problem: String,
}

/// A shard whose size on disk differs from the index's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadShard {
    /// The shard file.
    pub path: PathBuf,
    /// Recorded size.
    pub expected: u64,
    /// Size on disk.
    pub actual: u64,
}

/// What [`verify`] found.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// Samples checked.
    pub samples: usize,
    /// Bytes checked.
    pub bytes: u64,
    /// Samples that failed, in index order.
    pub bad: Vec<BadSample>,
    /// Shards of the wrong size.
    pub bad_shards: Vec<BadShard>,
}

impl VerifyReport {
    /// True when nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.bad.is_empty() && self.bad_shards.is_empty()
    }
}

/// Checks the index (an unreadable index is an error) and every sample's checksum; `progress` is
/// called with the number of samples checked so far.
pub fn verify(dir: &Path, progress: &mut dyn FnMut(usize, usize)) -> Result<VerifyReport, PackError> {
    let data = PackedDataset::open_with(dir, false)?;
    let bad_shards = data
        .shard_sizes()
        .filter(|(_, expected, actual)| expected != actual)
        .map(|(path, expected, actual)| BadShard { path: path.to_owned(), expected, actual })
        .collect();
    let mut report = VerifyReport { samples: data.len(), bytes: 0, bad: Vec::new(), bad_shards };
    for index in 0..data.len() {
        let problem = match data.get(index) {
            Ok((bytes, _)) => {
                report.bytes += bytes.len() as u64;
                let (stored, computed) = (data.record(index)?.crc, crc32fast::hash(bytes));
                (stored != computed)
                    .then(|| format!("checksum mismatch (stored {stored:08x}, computed {computed:08x})"))
            }
            Err(PackError::SampleOutsideShard { shard, .. }) => {
                Some(format!("bytes missing: {} is truncated", shard.display()))
            }
            Err(other) => return Err(other),
        };
        if let Some(problem) = problem {
            report.bad.push(BadSample { index, path: data.path(index)?, problem });
        }
        if index % 256 == 255 || index + 1 == data.len() {
            progress(index + 1, data.len());
        }
    }
    Ok(report)
}

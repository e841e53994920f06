//! Building a pack: source samples are checked (and re-encoded if asked) on worker threads, then
//! appended in source order to shards of about `shard_size` bytes; each finished shard is synced
//! and recorded in the [`super::journal`] so an interrupted build resumes; the index is written
//! last, atomically.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use crate::decode::DecodeOptions;

use super::encode::prepare_sample;
use super::error::{PackError, SampleError};
use super::format::{encode_index, Encoding, IndexMeta, Record, ShardInfo, INDEX_FILE, VERSION};
use super::journal::{shard_file, write_atomic, DoneSample, DoneShard, Journal, SkippedSample};
use super::source::SampleSource;

/// File listing the skipped source samples of a finished pack (one per line: name, tab, reason;
/// see [`crate::records`]).
pub const SKIPPED_FILE: &str = "skipped.txt";

/// How to build a pack.
#[derive(Debug, Clone)]
pub struct PackOptions {
    /// A shard is closed before it would grow past this many bytes (a larger sample gets a shard
    /// of its own). Many moderate files rather than one huge one: resuming redoes at most one
    /// shard, and copying a dataset can be spread over files.
    pub shard_size: u64,
    /// Store the original bytes or re-encode.
    pub encoding: Encoding,
    /// Worker threads decoding (and re-encoding) samples.
    pub threads: usize,
    /// Decoder limits (the decompression-bomb guard).
    pub decode: DecodeOptions,
    /// Stop with [`PackError::Interrupted`] after this many samples of this run, leaving the
    /// current shard half written — how the tests stand in for a killed process.
    pub stop_after: Option<usize>,
}

impl Default for PackOptions {
    fn default() -> Self {
        Self {
            shard_size: 256 << 20,
            encoding: Encoding::Original,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            decode: DecodeOptions::default(),
            stop_after: None,
        }
    }
}

/// Where a build stands, passed to the progress callback after every source sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Source samples handled (packed or skipped), including those of an earlier run.
    pub done: usize,
    /// Source samples in all.
    pub total: usize,
    /// Source samples skipped so far.
    pub skipped: usize,
}

/// A source sample left out of the pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Its index in the source.
    pub source_index: usize,
    /// Its name (path relative to the source).
    pub name: String,
    /// Why (names the file).
    pub reason: String,
}

/// The outcome of a finished pack.
#[derive(Debug, Clone)]
pub struct PackSummary {
    /// Samples in the pack.
    pub samples: usize,
    /// Shard files.
    pub shards: usize,
    /// Bytes of sample data over all shards.
    pub bytes: u64,
    /// Source samples left out, in source order.
    pub skipped: Vec<Skipped>,
    /// Source samples an earlier, interrupted run had already handled.
    pub resumed_at: usize,
    /// Classes of the source left without a sample because every one of theirs was skipped:
    /// their label is still in the pack, but nothing trains on it.
    pub empty_classes: Vec<String>,
}

fn validate(options: &PackOptions) -> Result<(), PackError> {
    if options.shard_size == 0 {
        return Err(PackError::InvalidOption { option: "--shard-size", why: "must be at least 1 byte".into() });
    }
    if let Encoding::Jpeg { quality, .. } = options.encoding {
        if !(1..=100).contains(&quality) {
            return Err(PackError::InvalidOption { option: "--quality", why: format!("{quality} is not in 1..=100") });
        }
    }
    if options.threads == 0 {
        return Err(PackError::InvalidOption { option: "--threads", why: "must be at least 1".into() });
    }
    Ok(())
}

/// Loads and prepares one sample; a panicking decoder skips the sample instead of the build.
fn prepare_one(source: &dyn SampleSource, index: usize, options: &PackOptions) -> Result<Vec<u8>, SampleError> {
    let name = source.name(index);
    catch_unwind(AssertUnwindSafe(|| {
        let bytes = source.load(index)?;
        prepare_sample(bytes, &name, options.encoding, &options.decode)
    }))
    .unwrap_or_else(|_| Err(SampleError::Panicked { name }))
}

/// Prepares `range` on `options.threads` threads; results in source order.
fn prepare_batch(
    source: &dyn SampleSource,
    range: Range<usize>,
    options: &PackOptions,
) -> Vec<Result<Vec<u8>, SampleError>> {
    let indices: Vec<usize> = range.collect();
    let chunk = indices.len().div_ceil(options.threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = indices
            .chunks(chunk)
            .map(|part| {
                (part, scope.spawn(move || part.iter().map(|&i| prepare_one(source, i, options)).collect::<Vec<_>>()))
            })
            .collect();
        // One result per index even if a worker died outside `prepare_one`, so results stay aligned.
        workers
            .into_iter()
            .flat_map(|(part, w)| {
                w.join().unwrap_or_else(|_| {
                    part.iter().map(|&i| Err(SampleError::WorkerDied { name: source.name(i) })).collect()
                })
            })
            .collect()
    })
}

/// The shard being filled.
struct OpenShard {
    file: BufWriter<File>,
    state: DoneShard,
}

impl OpenShard {
    fn create(out: &Path, number: usize, next_source: usize) -> Result<Self, PackError> {
        let path = out.join(shard_file(number));
        let file = File::create(&path).map_err(PackError::io(&path, "cannot create"))?;
        Ok(Self { file: BufWriter::new(file), state: DoneShard { number, next_source, ..Default::default() } })
    }

    /// Flushes and syncs the file, then records the shard as finished.
    fn finish(self, out: &Path, journal: &Journal) -> Result<DoneShard, PackError> {
        let path = out.join(shard_file(self.state.number));
        let file = self.file.into_inner().map_err(|e| PackError::io(&path, "cannot write")(e.into_error()))?;
        file.sync_all().map_err(PackError::io(&path, "cannot sync"))?;
        journal.record(&self.state)?;
        Ok(self.state)
    }
}

/// Packs `source` into the folder `out`, resuming an unfinished pack of the same source and
/// options found there. `progress` is called after every source sample.
pub fn pack(
    source: &dyn SampleSource,
    out: &Path,
    options: &PackOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<PackSummary, PackError> {
    validate(options)?;
    let total = source.len();
    if total == 0 {
        return Err(PackError::NothingPacked {
            source_name: source.describe(),
            skipped: 0,
            first: "the source is empty".into(),
        });
    }
    let index_path = out.join(INDEX_FILE);
    if index_path.exists() {
        // A run that died between writing the index and removing its progress records finished
        // the pack: tidy up what it left.
        let _ = std::fs::remove_dir_all(out.join(super::journal::PROGRESS_DIR));
        return Err(PackError::AlreadyPacked { index: index_path });
    }
    std::fs::create_dir_all(out).map_err(PackError::io(out, "cannot create the output folder"))?;
    let params = [
        ("format_version", VERSION.to_string()),
        ("source_samples", total.to_string()),
        ("source_fingerprint", format!("{:08x}", source.fingerprint())),
        ("shard_size", options.shard_size.to_string()),
        ("encoding", options.encoding.to_string()),
    ];
    let (journal, mut shards) = Journal::start(out, &params)?;
    let resumed_at = shards.last().map_or(0, |s| s.next_source);
    let mut skipped_count: usize = shards.iter().map(|s| s.skipped.len()).sum();
    progress(Progress { done: resumed_at, total, skipped: skipped_count });

    let mut open = OpenShard::create(out, shards.len(), resumed_at)?;
    let mut processed = 0usize;
    let batch = options.threads * 16;
    let mut start = resumed_at;
    while start < total {
        let end = (start + batch).min(total);
        for (index, result) in (start..end).zip(prepare_batch(source, start..end, options)) {
            let bytes = result.and_then(|b| match u32::try_from(b.len()) {
                Ok(_) => Ok(b),
                Err(_) => Err(SampleError::TooLarge { name: source.name(index), len: b.len() }),
            });
            match bytes {
                Err(error) => {
                    // One line per reason: the journal and `skipped.txt` are line-oriented.
                    let reason = error.to_string().replace(['\n', '\r'], " ");
                    open.state.skipped.push(SkippedSample { source: index, reason });
                    skipped_count += 1;
                }
                Ok(bytes) => {
                    if !open.state.samples.is_empty() && open.state.size + bytes.len() as u64 > options.shard_size {
                        let number = open.state.number + 1;
                        shards.push(open.finish(out, &journal)?);
                        open = OpenShard::create(out, number, index)?;
                    }
                    let path = out.join(shard_file(open.state.number));
                    open.file.write_all(&bytes).map_err(PackError::io(&path, "cannot write"))?;
                    let crc = crc32fast::hash(&bytes);
                    open.state.samples.push(DoneSample {
                        source: index,
                        offset: open.state.size,
                        length: bytes.len() as u32,
                        crc,
                    });
                    open.state.size += bytes.len() as u64;
                }
            }
            open.state.next_source = index + 1;
            processed += 1;
            progress(Progress { done: index + 1, total, skipped: skipped_count });
            if options.stop_after == Some(processed) {
                // Leave the half-written shard on disk, as a killed process would.
                let _ = open.file.flush();
                return Err(PackError::Interrupted { processed });
            }
        }
        start = end;
    }
    let trailing_skips = if open.state.samples.is_empty() {
        let path = out.join(shard_file(open.state.number));
        drop(open.file);
        std::fs::remove_file(&path).map_err(PackError::io(&path, "cannot delete"))?;
        open.state.skipped
    } else {
        shards.push(open.finish(out, &journal)?);
        Vec::new()
    };
    let skipped: Vec<Skipped> = shards
        .iter()
        .flat_map(|s| &s.skipped)
        .chain(&trailing_skips)
        .map(|s| Skipped { source_index: s.source, name: source.name(s.source), reason: s.reason.clone() })
        .collect();
    let summary = write_index(source, out, options, &shards, skipped, resumed_at)?;
    journal.finish()?;
    Ok(summary)
}

/// Writes `skipped.txt` and then, atomically, the index that makes `out` a dataset.
fn write_index(
    source: &dyn SampleSource,
    out: &Path,
    options: &PackOptions,
    shards: &[DoneShard],
    skipped: Vec<Skipped>,
    resumed_at: usize,
) -> Result<PackSummary, PackError> {
    let names: Vec<(Record, String)> = shards
        .iter()
        .flat_map(|shard| {
            shard.samples.iter().map(move |s| {
                let record = Record {
                    shard: shard.number as u32,
                    label: source.label(s.source),
                    offset: s.offset,
                    length: s.length,
                    crc: s.crc,
                    path_offset: 0,
                    path_len: 0,
                };
                (record, source.name(s.source))
            })
        })
        .collect();
    if names.is_empty() {
        let first = skipped.first().map_or_else(|| "none".to_owned(), |s| s.reason.clone());
        return Err(PackError::NothingPacked { source_name: source.describe(), skipped: skipped.len(), first });
    }
    let mut listing = String::new();
    for s in &skipped {
        listing.push_str(&crate::records::record_line(&s.name, &s.reason));
    }
    write_atomic(&out.join(SKIPPED_FILE), listing.as_bytes())?;
    let meta = IndexMeta {
        encoding: options.encoding,
        classes: source.classes().to_vec(),
        shards: shards.iter().map(|s| ShardInfo { file: shard_file(s.number), size: s.size }).collect(),
    };
    let samples: Vec<(Record, &str)> = names.iter().map(|(r, n)| (*r, n.as_str())).collect();
    write_atomic(&out.join(INDEX_FILE), &encode_index(&meta, &samples))?;
    let mut packed_per_class = vec![0usize; source.classes().len()];
    for (record, _) in &names {
        packed_per_class[record.label as usize] += 1;
    }
    let had_samples: std::collections::BTreeSet<u32> = skipped.iter().map(|s| source.label(s.source_index)).collect();
    let empty_classes = had_samples
        .into_iter()
        .filter(|&label| packed_per_class[label as usize] == 0)
        .map(|label| source.classes()[label as usize].clone())
        .collect();
    Ok(PackSummary {
        empty_classes,
        samples: names.len(),
        shards: shards.len(),
        bytes: shards.iter().map(|s| s.size).sum(),
        skipped,
        resumed_at,
    })
}

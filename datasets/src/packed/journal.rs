//! Progress of an unfinished pack, so that a killed `lgd prepare pack` continues where it stopped.
//!
//! While packing, `OUT/.pack-progress/` holds `params` (source fingerprint and options: a resume
//! with anything different is refused) and one `shard-NNNNN.done` per finished shard, written
//! atomically only after the shard's bytes are synced to disk. A shard without its `.done` record
//! is the one being written when the process died: on resume it is deleted and redone, every shard
//! with a record (and the right size) is kept. The progress folder is removed once the index is in
//! place.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::error::PackError;

/// Name of the progress folder inside the output folder.
pub const PROGRESS_DIR: &str = ".pack-progress";

/// File name of shard `n`.
pub fn shard_file(n: usize) -> String {
    format!("shard-{n:05}.bin")
}

fn shard_number(file_name: &str) -> Option<usize> {
    file_name.strip_prefix("shard-")?.strip_suffix(".bin")?.parse().ok()
}

/// A sample written into a finished shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DoneSample {
    /// Index in the source.
    pub source: usize,
    /// First byte in the shard.
    pub offset: u64,
    /// Number of bytes.
    pub length: u32,
    /// CRC-32 of the bytes.
    pub crc: u32,
}

/// A source sample that was not packed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedSample {
    /// Index in the source.
    pub source: usize,
    /// The reason (names the file).
    pub reason: String,
}

/// A finished shard as its progress record describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DoneShard {
    /// Shard number.
    pub number: usize,
    /// Bytes in the shard file.
    pub size: u64,
    /// First source index not covered by this and earlier shards.
    pub next_source: usize,
    /// Samples in the shard, in order.
    pub samples: Vec<DoneSample>,
    /// Source samples skipped while this shard was being filled.
    pub skipped: Vec<SkippedSample>,
}

/// The progress folder of one output folder.
#[derive(Debug)]
pub struct Journal {
    out: PathBuf,
    progress: PathBuf,
}

/// Writes `bytes` to `path` through a temporary file, a sync and a rename, so readers see the old
/// file or the new one, never half of one.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PackError> {
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp).map_err(PackError::io(&tmp, "cannot create"))?;
    file.write_all(bytes).map_err(PackError::io(&tmp, "cannot write"))?;
    file.sync_all().map_err(PackError::io(&tmp, "cannot sync"))?;
    std::fs::rename(&tmp, path).map_err(PackError::io(path, "cannot rename into place"))?;
    if let Some(parent) = path.parent() {
        // Makes the rename itself durable; not every file system lets a folder be synced.
        let _ = std::fs::File::open(parent).and_then(|d| d.sync_all());
    }
    Ok(())
}

impl Journal {
    /// Opens (or starts) the progress of a pack into `out` with `params` (key, value pairs).
    /// Returns the finished shards to keep; partial shards and records beyond them are deleted.
    pub fn start(out: &Path, params: &[(&str, String)]) -> Result<(Self, Vec<DoneShard>), PackError> {
        let progress = out.join(PROGRESS_DIR);
        std::fs::create_dir_all(&progress).map_err(PackError::io(&progress, "cannot create"))?;
        let journal = Self { out: out.to_owned(), progress };
        let params_path = journal.progress.join("params");
        let mut text = String::new();
        for (key, value) in params {
            let _ = writeln!(text, "{key} {value}");
        }
        match std::fs::read_to_string(&params_path) {
            Ok(old) => {
                for (key, value) in params {
                    let was = old.lines().find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(' ')));
                    if was != Some(value.as_str()) {
                        return Err(PackError::ResumeMismatch {
                            dir: out.to_owned(),
                            field: (*key).to_owned(),
                            was: was.unwrap_or("(absent)").to_owned(),
                            now: value.clone(),
                        });
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => write_atomic(&params_path, text.as_bytes())?,
            Err(e) => return Err(PackError::io(&params_path, "cannot read")(e)),
        }
        let mut done = Vec::new();
        loop {
            let record = journal.record_path(done.len());
            let shard = match std::fs::read_to_string(&record) {
                Ok(text) => parse_done(&text, &record)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) => return Err(PackError::io(&record, "cannot read")(e)),
            };
            let on_disk = std::fs::metadata(out.join(shard_file(done.len()))).map(|m| m.len()).ok();
            if shard.number != done.len() || on_disk != Some(shard.size) {
                break; // a shard that is not as recorded is redone, with everything after it
            }
            done.push(shard);
        }
        journal.forget_from(done.len())?;
        Ok((journal, done))
    }

    fn record_path(&self, n: usize) -> PathBuf {
        self.progress.join(format!("shard-{n:05}.done"))
    }

    /// Deletes shard files and records numbered `first` and above (left by an interrupted run).
    fn forget_from(&self, first: usize) -> Result<(), PackError> {
        for (folder, suffix) in [(&self.out, ".bin"), (&self.progress, ".done")] {
            let entries = std::fs::read_dir(folder).map_err(PackError::io(folder.as_path(), "cannot list"))?;
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let as_bin = name.strip_suffix(suffix).map(|stem| format!("{stem}.bin"));
                if as_bin.as_deref().and_then(shard_number).is_some_and(|n| n >= first) {
                    std::fs::remove_file(entry.path()).map_err(PackError::io(entry.path(), "cannot delete"))?;
                }
            }
        }
        Ok(())
    }

    /// Records a finished shard (its file must already be synced).
    pub fn record(&self, shard: &DoneShard) -> Result<(), PackError> {
        let mut text = format!("shard {} size {} next {}\n", shard.number, shard.size, shard.next_source);
        for s in &shard.samples {
            let _ = writeln!(text, "ok {} {} {} {}", s.source, s.offset, s.length, s.crc);
        }
        for s in &shard.skipped {
            let reason = s.reason.replace(['\n', '\r'], " ");
            let _ = writeln!(text, "skip {} {reason}", s.source);
        }
        write_atomic(&self.record_path(shard.number), text.as_bytes())
    }

    /// Removes the progress folder (the index is in place).
    pub fn finish(self) -> Result<(), PackError> {
        std::fs::remove_dir_all(&self.progress).map_err(PackError::io(&self.progress, "cannot delete"))
    }
}

fn parse_done(text: &str, path: &Path) -> Result<DoneShard, PackError> {
    let bad = |line: usize, what: &str| PackError::Journal { path: path.to_owned(), line, what: what.to_owned() };
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap_or("").split(' ').collect();
    let num = |s: &str, line| s.parse::<u64>().map_err(|_| bad(line, "expected a number"));
    let mut shard = match head.as_slice() {
        ["shard", n, "size", size, "next", next] => DoneShard {
            number: num(n, 1)? as usize,
            size: num(size, 1)?,
            next_source: num(next, 1)? as usize,
            ..Default::default()
        },
        _ => return Err(bad(1, "expected `shard N size BYTES next INDEX`")),
    };
    for (i, line) in lines.enumerate() {
        let line_no = i + 2;
        let mut parts = line.splitn(3, ' ');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("ok"), Some(source), Some(rest)) => {
                let rest: Vec<&str> = rest.split(' ').collect();
                let [offset, length, crc] = rest.as_slice() else {
                    return Err(bad(line_no, "expected `ok SOURCE OFFSET LENGTH CRC`"));
                };
                shard.samples.push(DoneSample {
                    source: num(source, line_no)? as usize,
                    offset: num(offset, line_no)?,
                    length: num(length, line_no)? as u32,
                    crc: num(crc, line_no)? as u32,
                });
            }
            (Some("skip"), Some(source), reason) => shard.skipped.push(SkippedSample {
                source: num(source, line_no)? as usize,
                reason: reason.unwrap_or("").to_owned(),
            }),
            _ => return Err(bad(line_no, "expected an `ok` or `skip` line")),
        }
    }
    Ok(shard)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_partial_shards_are_forgotten() {
        let out = std::env::temp_dir().join(format!("lgd-journal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(&out).unwrap();
        let params = [("shard_size", "100".to_owned())];
        let (journal, done) = Journal::start(&out, &params).unwrap();
        assert!(done.is_empty());
        std::fs::write(out.join(shard_file(0)), [1u8; 7]).unwrap();
        let shard = DoneShard {
            number: 0,
            size: 7,
            next_source: 3,
            samples: vec![DoneSample { source: 0, offset: 0, length: 7, crc: 42 }],
            skipped: vec![SkippedSample { source: 1, reason: "x/y.jpg: broken\nreally".into() }],
        };
        journal.record(&shard).unwrap();
        std::fs::write(out.join(shard_file(1)), [2u8; 3]).unwrap(); // partial: no record
        let (_, done) = Journal::start(&out, &params).unwrap();
        let mut expected = shard.clone();
        expected.skipped[0].reason = "x/y.jpg: broken really".into();
        assert_eq!(done, vec![expected]);
        assert!(!out.join(shard_file(1)).exists(), "the partial shard is deleted");
        let other = [("shard_size", "200".to_owned())];
        let e = Journal::start(&out, &other).unwrap_err().to_string();
        assert!(e.contains("shard_size = 100, now 200"), "{e}");
        // A recorded shard whose file was truncated is redone.
        std::fs::write(out.join(shard_file(0)), [1u8; 5]).unwrap();
        let (_, done) = Journal::start(&out, &params).unwrap();
        assert!(done.is_empty() && !out.join(shard_file(0)).exists());
        std::fs::remove_dir_all(&out).unwrap();
    }
}

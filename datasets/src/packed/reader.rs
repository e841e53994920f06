//! [`PackedDataset`]: a finished pack opened for reading. The index and every shard are memory
//! mapped, never read into the heap: `get` hands out slices of the mapping, so a training process
//! with many workers shares one copy of the data in the page cache and its own memory stays flat
//! however large the dataset.

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::error::PackError;
use super::format::{parse_index, Encoding, Record, ShardInfo, INDEX_FILE, RECORD_LEN};
use super::journal::PROGRESS_DIR;

/// A packed dataset: samples by index, each the encoded image bytes and a label.
#[derive(Debug)]
pub struct PackedDataset {
    dir: PathBuf,
    index: Mmap,
    records_at: usize,
    paths_at: usize,
    len: usize,
    encoding: Encoding,
    classes: Vec<String>,
    shards: Vec<Shard>,
}

#[derive(Debug)]
struct Shard {
    path: PathBuf,
    info: ShardInfo,
    /// `None` for an empty file (an empty file cannot be mapped).
    map: Option<Mmap>,
}

impl Shard {
    fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }
}

/// Maps a file read-only.
fn map(path: &Path) -> Result<Option<Mmap>, PackError> {
    let file = File::open(path).map_err(PackError::io(path, "cannot open"))?;
    let len = file.metadata().map_err(PackError::io(path, "cannot stat"))?.len();
    if len == 0 {
        return Ok(None);
    }
    // SAFETY: the mapping is read-only and private to this process. Another process truncating
    // the file while it is mapped would make access fault (SIGBUS); a packed dataset is written
    // once and never modified, and `get` bounds-checks against the size seen here.
    let map = unsafe { Mmap::map(&file) }.map_err(PackError::io(path, "cannot map"))?;
    Ok(Some(map))
}

impl PackedDataset {
    /// Opens `dir`: checks the index (magic, version, CRCs, every record's bounds) and maps every
    /// shard, refusing a shard whose size differs from the one recorded.
    pub fn open(dir: &Path) -> Result<Self, PackError> {
        Self::open_with(dir, true)
    }

    /// As [`Self::open`], but with `strict` false a shard of the wrong size is still mapped, so
    /// [`super::verify`] can report the samples it lost instead of refusing the whole dataset.
    pub(crate) fn open_with(dir: &Path, strict: bool) -> Result<Self, PackError> {
        let index_path = dir.join(INDEX_FILE);
        if !index_path.exists() {
            let meta = std::fs::metadata(dir).map_err(PackError::io(dir, "cannot read the packed dataset folder"))?;
            let unfinished = meta.is_dir() && dir.join(PROGRESS_DIR).exists();
            let hint = if unfinished {
                " (an unfinished pack is there: run the same pack command again to finish it)"
            } else {
                ""
            };
            return Err(PackError::NotPacked { dir: dir.to_owned(), file: INDEX_FILE, hint });
        }
        let index = map(&index_path)?.ok_or(PackError::BadMagic { path: index_path.clone() })?;
        let parsed = parse_index(&index, &index_path)?;
        let mut shards = Vec::with_capacity(parsed.meta.shards.len());
        for info in parsed.meta.shards {
            let path = dir.join(&info.file);
            let map = map(&path)?;
            let actual = map.as_ref().map_or(0, |m| m.len() as u64);
            if strict && actual != info.size {
                return Err(PackError::ShardSize { path, expected: info.size, actual });
            }
            shards.push(Shard { path, info, map });
        }
        Ok(Self {
            dir: dir.to_owned(),
            index,
            records_at: parsed.records_at,
            paths_at: parsed.paths_at,
            len: parsed.samples,
            encoding: parsed.meta.encoding,
            classes: parsed.meta.classes,
            shards,
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the dataset has no samples (a pack never writes one; kept for completeness).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Class names; a label indexes this list.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// How the samples were encoded at build time.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The dataset folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of shard files.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// The stored record of sample `index`.
    pub fn record(&self, index: usize) -> Result<Record, PackError> {
        if index >= self.len {
            return Err(PackError::OutOfRange { index, len: self.len });
        }
        Ok(Record::from_bytes(&self.index[self.records_at + index * RECORD_LEN..][..RECORD_LEN]))
    }

    /// The path of sample `index` relative to the source it was packed from (for messages).
    pub fn path(&self, index: usize) -> Result<String, PackError> {
        let r = self.record(index)?;
        // `parse_index` checked the range; the blob was written from `&str`s.
        let start = self.paths_at + r.path_offset as usize;
        Ok(String::from_utf8_lossy(&self.index[start..start + r.path_len as usize]).into_owned())
    }

    /// Sample `index`: its encoded bytes (a slice of the mapped shard, not a copy) and its label.
    /// The checksum is not checked here (that costs a pass over the bytes; see [`Self::get_checked`]).
    pub fn get(&self, index: usize) -> Result<(&[u8], u32), PackError> {
        let r = self.record(index)?;
        let shard = &self.shards[r.shard as usize];
        let range = r.offset as usize..(r.offset + u64::from(r.length)) as usize;
        match shard.bytes().get(range) {
            Some(bytes) => Ok((bytes, r.label)),
            None => Err(PackError::SampleOutsideShard { index, path: self.path(index)?, shard: shard.path.clone() }),
        }
    }

    /// As [`Self::get`], and `Ok(None)` when the bytes no longer match their CRC-32.
    pub fn get_checked(&self, index: usize) -> Result<Option<(&[u8], u32)>, PackError> {
        let (bytes, label) = self.get(index)?;
        let expected = self.record(index)?.crc;
        Ok((crc32fast::hash(bytes) == expected).then_some((bytes, label)))
    }

    /// The recorded and actual size of every shard, for verification.
    pub(crate) fn shard_sizes(&self) -> impl Iterator<Item = (&Path, u64, u64)> {
        self.shards.iter().map(|s| (s.path.as_path(), s.info.size, s.bytes().len() as u64))
    }
}

// Loader workers share one opened dataset across threads: keep it Send + Sync.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<PackedDataset>();
};

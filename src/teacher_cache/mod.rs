//! The teacher-output cache: the frozen teacher's embedding of V augmented views per image,
//! stored once in a mapped file in the run folder and replayed in later epochs instead of running
//! the teacher again. The views are not stored: the data pipeline regenerates view v of an image
//! from the seeded (seed, epoch v, sample) stream, so epoch e shows exactly the views whose
//! embeddings slot e mod V holds.
//!
//! File layout: a 128-byte header (magic, samples, views, dim, the fingerprint of everything the
//! embeddings depend on), one 8-byte stamp per (sample, view), then the fp16 embeddings at
//! `(sample · views + view) · dim`. A header that does not match the run (another teacher, recipe,
//! seed or dataset) makes a fresh file. A stamp is a mark and the CRC-32C of its row, written after
//! the row: after a crash of the machine, pages of a mapped file reach the disk in any order, and a
//! row lost behind its stamp then reads as not stored (computed again), never as a wrong key.
//! The file's blocks are reserved when it is opened, so a full disk is an error at start-up rather
//! than a SIGBUS in the middle of training.

pub mod replay;

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use memmap2::MmapMut;
use tch::{Device, Kind, Tensor};

use crate::objective::normalize_rows;

const MAGIC: &[u8; 8] = b"LGDTC002";
const HEADER: usize = 128;
const STAMP: usize = 8;
/// The high half of a stamp: never zero, so a slot never written (all zeros) is not stored.
const STAMP_MARK: u64 = 0x4C47_4443 << 32;
/// Slice-by-16 tables: a replayed batch is checked row by row (0.5 MB at batch 256, D = 1024).
static ROW_CHECKSUM: crc::Crc<u32, crc::Table<16>> = crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISCSI);

/// Why the cache file could not be used.
#[derive(Debug, thiserror::Error)]
#[error("teacher cache {path}: {message}")]
pub struct TeacherCacheError {
    /// The file.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// The mapped cache of one run.
#[derive(Debug)]
pub struct TeacherCache {
    map: MmapMut,
    path: PathBuf,
    samples: usize,
    views: usize,
    dim: usize,
}

impl TeacherCache {
    /// Opens `path`, keeping what it holds when its header matches, else starting it afresh.
    pub fn open(
        path: &Path,
        samples: usize,
        views: usize,
        dim: usize,
        fingerprint: [u8; 32],
    ) -> Result<Self, TeacherCacheError> {
        let fail = |message: String| TeacherCacheError { path: path.to_owned(), message };
        let mut header = [0u8; HEADER];
        header[..8].copy_from_slice(MAGIC);
        for (i, value) in [samples, views, dim].into_iter().enumerate() {
            header[8 + 8 * i..16 + 8 * i].copy_from_slice(&(value as u64).to_le_bytes());
        }
        header[32..64].copy_from_slice(&fingerprint);
        let entries = samples.checked_mul(views).ok_or_else(|| fail("size overflows".into()))?;
        let length = HEADER + entries * STAMP + entries * dim * 2;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| fail(e.to_string()))?;
        let current = file.metadata().map_err(|e| fail(e.to_string()))?.len();
        let mut existing = [0u8; HEADER];
        let matches = current == length as u64 && {
            use std::io::Read;
            (&file).read_exact(&mut existing).is_ok() && existing == header
        };
        if !matches {
            if current > 0 {
                tracing::info!(path = %path.display(), "teacher cache was written for another setting or by another version of lgd: starting it afresh");
            }
            file.set_len(0)
                .and_then(|()| file.set_len(length as u64))
                .map_err(|e| fail(format!("cannot size it to {length} bytes: {e}")))?;
        }
        reserve_blocks(&file, length).map_err(|e| fail(format!("cannot reserve its {length} bytes on disk: {e}")))?;
        // SAFETY: the run folder is locked by this process (daemon start-up); nothing else maps
        // or truncates the file while the map lives.
        let mut map = unsafe { MmapMut::map_mut(&file) }.map_err(|e| fail(e.to_string()))?;
        if !matches {
            map[..HEADER].copy_from_slice(&header);
        }
        Ok(Self { map, path: path.to_owned(), samples, views, dim })
    }

    fn entry(&self, sample: usize, view: usize) -> usize {
        assert!(
            sample < self.samples && view < self.views,
            "cache entry ({sample}, {view}) outside {}x{}",
            self.samples,
            self.views
        );
        sample * self.views + view
    }

    fn stamp_at(&self, entry: usize) -> usize {
        HEADER + entry * STAMP
    }

    fn row_at(&self, entry: usize) -> usize {
        HEADER + self.samples * self.views * STAMP + entry * self.dim * 2
    }

    /// The stored embeddings of `view` of every sample in `samples`, as `[B, D]` f32 on `device`
    /// (unit rows), or `None` when any of them is not stored (or its row fails its checksum).
    pub fn lookup(&self, samples: &[usize], view: usize, device: Device) -> Option<Tensor> {
        let row = self.dim * 2;
        let mut bytes = Vec::with_capacity(samples.len() * row);
        for &s in samples {
            let entry = self.entry(s, view);
            let at = self.stamp_at(entry);
            let stamp = u64::from_le_bytes(self.map[at..at + STAMP].try_into().expect("8 bytes"));
            let data = &self.map[self.row_at(entry)..self.row_at(entry) + row];
            if stamp != stamp_of(data) {
                return None;
            }
            bytes.extend_from_slice(data);
        }
        let rows = Tensor::from_data_size(&bytes, &[samples.len() as i64, self.dim as i64], Kind::Half);
        Some(normalize_rows(&crate::torch_ext::upload(rows, device).to_kind(Kind::Float)))
    }

    /// Stores `embeddings` (`[B, D]`, any device and float kind) as `view` of `samples`, rounded to
    /// fp16; returns them as they will be replayed (rounded, f32, rows renormalised, on their
    /// device), so the epoch that stores a view trains on the same keys as the epochs that replay it.
    pub fn store(&mut self, samples: &[usize], view: usize, embeddings: &Tensor) -> Tensor {
        let rounded = embeddings.to_kind(Kind::Half);
        let host: Vec<u8> = {
            let flat = rounded.to_device(Device::Cpu).contiguous();
            let mut bytes = vec![0u8; flat.numel() * 2];
            flat.copy_data_u8(&mut bytes, flat.numel());
            bytes
        };
        let row = self.dim * 2;
        for (i, &s) in samples.iter().enumerate() {
            let at = self.row_at(self.entry(s, view));
            self.map[at..at + row].copy_from_slice(&host[i * row..(i + 1) * row]);
        }
        for (i, &s) in samples.iter().enumerate() {
            let at = self.stamp_at(self.entry(s, view));
            self.map[at..at + STAMP].copy_from_slice(&stamp_of(&host[i * row..(i + 1) * row]).to_le_bytes());
        }
        normalize_rows(&rounded.to_kind(Kind::Float))
    }

    /// Writes the mapped pages to disk (at checkpoints: a resumed run then finds what was stored).
    pub fn flush(&self) -> Result<(), TeacherCacheError> {
        self.map.flush().map_err(|e| TeacherCacheError { path: self.path.clone(), message: e.to_string() })
    }

    /// Views per image.
    pub fn views(&self) -> usize {
        self.views
    }

    /// The file's size.
    pub fn bytes(&self) -> usize {
        self.map.len()
    }
}

/// The stamp that vouches for `row`.
fn stamp_of(row: &[u8]) -> u64 {
    STAMP_MARK | u64::from(ROW_CHECKSUM.checksum(row))
}

/// Allocates the file's blocks now (a sparse file would fail its first write to a full disk with
/// SIGBUS through the map).
fn reserve_blocks(file: &std::fs::File, length: usize) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let length = libc::off_t::try_from(length).map_err(|_| std::io::Error::other("too large for this system"))?;
    // SAFETY: a valid open descriptor; posix_fallocate only allocates blocks of the file.
    match unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, length) } {
        0 => Ok(()),
        code => Err(std::io::Error::from_raw_os_error(code)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_rows_replay_after_reopening_and_a_new_setting_starts_afresh() {
        let dir = std::env::temp_dir().join(format!("lgd-teacher-cache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cache.bin");
        let embeddings = Tensor::randn([3, 8], (Kind::Float, Device::Cpu));
        let mut cache = TeacherCache::open(&path, 10, 2, 8, [1; 32]).unwrap();
        assert!(cache.lookup(&[4, 7, 1], 1, Device::Cpu).is_none(), "nothing stored yet");
        let replayed = cache.store(&[4, 7, 1], 1, &embeddings);
        assert!(replayed.allclose(&normalize_rows(&embeddings), 1e-3, 1e-3, false), "fp16 rounding only");
        assert!(cache.lookup(&[4, 7, 0], 1, Device::Cpu).is_none(), "one missing sample: no hit");
        assert!(cache.lookup(&[4, 7, 1], 0, Device::Cpu).is_none(), "another view: no hit");
        cache.flush().unwrap();
        drop(cache);
        let cache = TeacherCache::open(&path, 10, 2, 8, [1; 32]).unwrap();
        let back = cache.lookup(&[1, 4], 1, Device::Cpu).unwrap();
        assert!(
            back.equal(&Tensor::cat(&[replayed.get(2).unsqueeze(0), replayed.get(0).unsqueeze(0)], 0)),
            "rows in the asked order"
        );
        drop(cache);
        let other = TeacherCache::open(&path, 10, 2, 8, [2; 32]).unwrap();
        assert!(other.lookup(&[4], 1, Device::Cpu).is_none(), "another fingerprint starts afresh");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Overwrites `bytes.len()` bytes of the file at `at`, as a crash that kept some pages of the
    /// map and lost others leaves it.
    fn overwrite(path: &Path, at: usize, bytes: &[u8]) {
        use std::io::{Seek, SeekFrom, Write};
        let mut file = OpenOptions::new().write(true).open(path).unwrap();
        file.seek(SeekFrom::Start(at as u64)).unwrap();
        file.write_all(bytes).unwrap();
    }

    #[test]
    fn a_row_lost_or_torn_behind_its_stamp_reads_as_not_stored() {
        let dir = std::env::temp_dir().join(format!("lgd-teacher-cache-torn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cache.bin");
        let (samples, views, dim) = (6, 2, 8);
        let mut cache = TeacherCache::open(&path, samples, views, dim, [7; 32]).unwrap();
        use std::os::unix::fs::MetadataExt;
        let metadata = std::fs::metadata(&path).unwrap();
        assert!(
            metadata.blocks() * 512 >= metadata.len(),
            "the file's blocks are reserved: {} of {} bytes",
            metadata.blocks() * 512,
            metadata.len()
        );
        let _stored = cache.store(&[0, 1, 2, 3], 1, &Tensor::randn([4, 8], (Kind::Float, Device::Cpu)));
        cache.flush().unwrap();
        let (row_of_1, stamp_of_2, row_of_3) =
            (cache.row_at(cache.entry(1, 1)), cache.stamp_at(cache.entry(2, 1)), cache.row_at(cache.entry(3, 1)));
        drop(cache);
        overwrite(&path, row_of_1, &[0; 16]); // sample 1: the row never reached the disk
        overwrite(&path, stamp_of_2, &[0; 8]); // sample 2: the stamp never did
        overwrite(&path, row_of_3 + 5, &[0xff]); // sample 3: one byte of the row is wrong
        let cache = TeacherCache::open(&path, samples, views, dim, [7; 32]).unwrap();
        assert!(cache.lookup(&[0], 1, Device::Cpu).is_some(), "an intact row still replays");
        for sample in [1, 2, 3] {
            assert!(
                cache.lookup(&[0, sample], 1, Device::Cpu).is_none(),
                "sample {sample}'s damaged entry was replayed"
            );
        }
        assert!(cache.lookup(&[4], 1, Device::Cpu).is_none(), "a slot never written");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

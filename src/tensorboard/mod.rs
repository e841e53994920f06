//! TensorBoard event files written directly, so training curves can be watched with a stock
//! `tensorboard --logdir` without TensorFlow or Python in the training process.
//!
//! Each process start creates a new file in the run's folder; TensorBoard merges the files of a
//! folder in name order (the name starts with the creation time), which is how a resumed run
//! continues its curves. Only scalars are written.

mod proto;
mod record;

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The event-file format version readers expect first; version 2 marks restarts explicitly.
const FILE_VERSION: &str = "brain.Event:2";

/// Why events could not be written.
#[derive(Debug, thiserror::Error)]
pub enum TensorBoardError {
    /// The folder or the event file could not be created.
    #[error("{path}: cannot create the TensorBoard event file: {source}")]
    Create {
        /// The folder or file at fault.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Writing or flushing events failed (a full disk shows up here).
    #[error("{path}: cannot write TensorBoard events: {source}")]
    Write {
        /// The event file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// Appends events to one new event file. Writes are buffered: call [`EventWriter::flush`] when
/// the curves should become visible (e.g. after each logging interval); dropping the writer
/// flushes too.
#[derive(Debug)]
pub struct EventWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl EventWriter {
    /// Creates `dir` if needed and `dir/events.out.tfevents.<unix secs>.<hostname>.<pid>.lgd` in
    /// it, and writes the file-version event. The name is TensorBoard's convention: readers find
    /// files by `tfevents` and read them in name order. A name already taken (a second writer in
    /// the same second) gets a `.1`, `.2`, ... suffix, which sorts after it.
    pub fn create(dir: &Path) -> Result<Self, TensorBoardError> {
        fs::create_dir_all(dir).map_err(|source| TensorBoardError::Create { path: dir.to_owned(), source })?;
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let name = format!("events.out.tfevents.{secs:010}.{}.{}.lgd", hostname(), std::process::id());
        let (path, file) = create_new(dir, &name)?;
        let mut writer = Self { path, out: BufWriter::new(file) };
        writer.write_event(&proto::file_version_event(wall_time(), FILE_VERSION))?;
        // Visible at once, so an empty run still shows up in TensorBoard.
        writer.flush()?;
        Ok(writer)
    }

    /// The event file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records `value` for `tag` at `step`. TensorBoard stores scalars as `f32`; the value is
    /// rounded to it.
    pub fn scalar(&mut self, tag: &str, step: u64, value: f64) -> Result<(), TensorBoardError> {
        self.write_event(&proto::scalar_event(wall_time(), step, tag, value as f32))
    }

    /// Marks that the run (re)starts at `step`, for a run resumed from a checkpoint older than
    /// its last logged step: TensorBoard then drops what earlier files logged at `step` or later,
    /// instead of drawing the redone steps twice.
    pub fn restart(&mut self, step: u64) -> Result<(), TensorBoardError> {
        self.write_event(&proto::session_start_event(wall_time(), step))
    }

    /// Hands buffered events to the operating system, where TensorBoard can read them.
    pub fn flush(&mut self) -> Result<(), TensorBoardError> {
        self.out.flush().map_err(|source| TensorBoardError::Write { path: self.path.clone(), source })
    }

    fn write_event(&mut self, event: &[u8]) -> Result<(), TensorBoardError> {
        record::write_record(&mut self.out, event)
            .map_err(|source| TensorBoardError::Write { path: self.path.clone(), source })
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        if let Err(error) = self.flush() {
            tracing::warn!("{error}");
        }
    }
}

/// Creates `dir/name`, or the first free `dir/name.N`, never touching an existing file.
fn create_new(dir: &Path, name: &str) -> Result<(PathBuf, File), TensorBoardError> {
    let mut suffix = 0u32;
    loop {
        let path = match suffix {
            0 => dir.join(name),
            n => dir.join(format!("{name}.{n}")),
        };
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists && suffix < 1000 => suffix += 1,
            Err(source) => return Err(TensorBoardError::Create { path, source }),
        }
    }
}

/// Part of the file name by convention, telling apart the files of runs sharing a folder
/// across machines.
fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().replace('/', "_"))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

fn wall_time() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lgd-tensorboard-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_taken_name_gets_a_suffix_sorting_after_it() {
        let dir = scratch("names");
        let (first, _) = create_new(&dir, "events.out.tfevents.1.h.2.lgd").unwrap();
        let (second, _) = create_new(&dir, "events.out.tfevents.1.h.2.lgd").unwrap();
        assert_eq!(first, dir.join("events.out.tfevents.1.h.2.lgd"));
        assert_eq!(second, dir.join("events.out.tfevents.1.h.2.lgd.1"));
        assert!(first < second);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn dropping_the_writer_flushes_framed_records() {
        let dir = scratch("drop");
        let mut writer = EventWriter::create(&dir.join("run")).unwrap();
        let path = writer.path().to_owned();
        assert!(path.file_name().unwrap().to_str().unwrap().starts_with("events.out.tfevents."));
        writer.scalar("loss", 5, 0.25).unwrap();
        drop(writer);
        // Two records (file version, scalar); walk them by their length fields.
        let bytes = fs::read(&path).unwrap();
        let (mut offset, mut records) = (0, 0);
        while offset < bytes.len() {
            let length = u64::from_le_bytes(bytes[offset..offset + 8].try_into().unwrap()) as usize;
            let data = &bytes[offset + 12..offset + 12 + length];
            let crc = u32::from_le_bytes(bytes[offset + 12 + length..offset + 16 + length].try_into().unwrap());
            assert_eq!(crc, record::masked_crc32c(data));
            offset += 16 + length;
            records += 1;
        }
        assert_eq!((offset, records), (bytes.len(), 2));
        let _ = fs::remove_dir_all(&dir);
    }
}

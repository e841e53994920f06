//! Metrics as JSON lines in the run folder (one object per logged step), appended so a resumed run
//! continues the same file; the same scalars as TensorBoard event files under `tensorboard/`
//! (`logging.tensorboard`); and the bad-sample list.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::tensorboard::{EventWriter, TensorBoardError};

/// Appends records to `metrics.jsonl` and paths to `bad_samples.txt`.
#[derive(Debug)]
pub struct MetricsWriter {
    metrics: File,
    bad_samples: File,
    path: PathBuf,
    tensorboard: Option<EventWriter>,
}

impl MetricsWriter {
    /// Opens (creating) the files in `run_dir`. A run resumed at `resumed_step` tells TensorBoard
    /// to drop what an interrupted process logged after that step, so no curve is drawn twice.
    pub fn open(run_dir: &Path, tensorboard: bool, resumed_step: u64) -> Result<Self, String> {
        let open = |name: &str| {
            let path = run_dir.join(name);
            OpenOptions::new().create(true).append(true).open(&path).map_err(|e| format!("{}: {e}", path.display()))
        };
        let tensorboard = match tensorboard {
            false => None,
            true => {
                let mut writer = EventWriter::create(&run_dir.join("tensorboard")).map_err(|e| e.to_string())?;
                if resumed_step > 0 {
                    writer.restart(resumed_step + 1).map_err(|e| e.to_string())?;
                }
                Some(writer)
            }
        };
        Ok(Self { metrics: open("metrics.jsonl")?, bad_samples: open("bad_samples.txt")?, path: run_dir.join("metrics.jsonl"), tensorboard })
    }

    /// Writes scalars for TensorBoard (when enabled) and flushes them.
    pub fn scalars(&mut self, step: u64, values: &[(&str, f64)]) -> Result<(), TensorBoardError> {
        let Some(writer) = &mut self.tensorboard else { return Ok(()) };
        for (tag, value) in values {
            writer.scalar(tag, step, *value)?;
        }
        writer.flush()
    }

    /// Writes one record.
    pub fn record(&mut self, value: &serde_json::Value) -> std::io::Result<()> {
        writeln!(self.metrics, "{value}")?;
        self.metrics.flush()
    }

    /// Lists a sample that could not be used: its path, a tab, and why (the reason names it too).
    pub fn bad_sample(&mut self, path: &Path, reason: &str) -> std::io::Result<()> {
        writeln!(self.bad_samples, "{}\t{reason}", path.display())?;
        self.bad_samples.flush()
    }

    /// Where the metrics go.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

//! Metrics as JSON lines in the run folder (one object per logged step), appended so a resumed run
//! continues the same file, and the bad-sample list.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Appends records to `metrics.jsonl` and paths to `bad_samples.txt`.
#[derive(Debug)]
pub struct MetricsWriter {
    metrics: File,
    bad_samples: File,
    path: PathBuf,
}

impl MetricsWriter {
    /// Opens (creating) both files in `run_dir`.
    pub fn open(run_dir: &Path) -> std::io::Result<Self> {
        let open = |name: &str| OpenOptions::new().create(true).append(true).open(run_dir.join(name));
        Ok(Self { metrics: open("metrics.jsonl")?, bad_samples: open("bad_samples.txt")?, path: run_dir.join("metrics.jsonl") })
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

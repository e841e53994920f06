//! Metrics as JSON lines in the run folder (one object per logged step), appended so a resumed run
//! continues the same file; the same scalars as TensorBoard event files under `tensorboard/`
//! (`logging.tensorboard`); and the bad-sample list. The files are written by a kameo actor on a
//! thread of its own ([`MetricsSink`]), so the training loop never waits for the disk.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crossbeam_channel::Receiver;
use lgd_actors::metrics_writer::{MetricsStore, MetricsWriterRef, Writing};
use lgd_actors::stage_actor::StageOutput;

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
    pub fn open(run_dir: &Path, tensorboard: bool, resumed_step: u64) -> Result<Self, MetricsError> {
        let open = |name: &str| {
            let path = run_dir.join(name);
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|source| MetricsError::File { path, source })
        };
        let tensorboard = match tensorboard {
            false => None,
            true => {
                let mut writer = EventWriter::create(&run_dir.join("tensorboard"))?;
                if resumed_step > 0 {
                    writer.restart(resumed_step + 1)?;
                }
                Some(writer)
            }
        };
        Ok(Self {
            metrics: open("metrics.jsonl")?,
            bad_samples: open("bad_samples.txt")?,
            path: run_dir.join("metrics.jsonl"),
            tensorboard,
        })
    }

    /// Writes scalars for TensorBoard (when enabled) and flushes them.
    pub fn scalars(&mut self, step: u64, values: &[(&str, f64)]) -> Result<(), TensorBoardError> {
        let Some(writer) = &mut self.tensorboard else { return Ok(()) };
        for (tag, value) in values {
            writer.scalar(tag, step, *value)?;
        }
        writer.flush()
    }

    /// `metrics.jsonl`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one record.
    pub fn record(&mut self, value: &serde_json::Value) -> std::io::Result<()> {
        writeln!(self.metrics, "{value}")?;
        self.metrics.flush()
    }

    /// Lists a sample that could not be used: its path, a tab, and why (the reason names it too).
    pub fn bad_sample(&mut self, path: &Path, reason: &str) -> std::io::Result<()> {
        self.bad_samples
            .write_all(lgd_datasets::records::record_line(&path.display().to_string(), reason).as_bytes())?;
        self.bad_samples.flush()
    }
}

/// One thing for the metrics writer to write.
pub enum MetricsItem {
    /// A line of `metrics.jsonl`.
    Record(serde_json::Value),
    /// A line of `bad_samples.txt`.
    BadSample(PathBuf, String),
    /// TensorBoard scalars of a step.
    Scalars(u64, Vec<(String, f64)>),
}

/// Why the metrics files could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// `metrics.jsonl` or `bad_samples.txt`.
    #[error("{}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The TensorBoard event files.
    #[error("TensorBoard events: {0}")]
    TensorBoard(#[from] TensorBoardError),
}

impl MetricsStore for MetricsWriter {
    type Item = MetricsItem;
    type Error = MetricsError;

    fn write(&mut self, item: MetricsItem) -> Result<(), MetricsError> {
        match item {
            MetricsItem::Record(value) => {
                self.record(&value).map_err(|source| MetricsError::File { path: self.path.clone(), source })
            }
            MetricsItem::BadSample(path, reason) => self
                .bad_sample(&path, &reason)
                .map_err(|source| MetricsError::File { path: self.path.with_file_name("bad_samples.txt"), source }),
            MetricsItem::Scalars(step, values) => {
                let values: Vec<(&str, f64)> = values.iter().map(|(tag, value)| (tag.as_str(), *value)).collect();
                Ok(self.scalars(step, &values)?)
            }
        }
    }
}

/// The metrics writer of a run, as an actor: the loop hands it records and goes on.
#[derive(Debug)]
pub struct MetricsSink {
    writer: Option<MetricsWriterRef<MetricsWriter>>,
    /// What the writer could not write (a failure is logged and training goes on).
    failures: Receiver<StageOutput<Writing<MetricsWriter>>>,
    path: PathBuf,
}

impl MetricsSink {
    /// The loop's side of the started `writer` of `path`, whose `failures` are logged at every record.
    pub fn new(
        (writer, failures): (MetricsWriterRef<MetricsWriter>, Receiver<StageOutput<Writing<MetricsWriter>>>),
        path: PathBuf,
    ) -> Self {
        Self { writer: Some(writer), failures, path }
    }

    fn send(&mut self, item: MetricsItem) {
        self.report_failures();
        if let Some(writer) = &self.writer {
            if writer.submit(item).is_err() {
                tracing::warn!("the metrics writer has stopped: metrics are no longer written");
                self.writer = None;
            }
        }
    }

    /// Logs what the writer could not write since the last call.
    fn report_failures(&self) {
        for failure in self.failures.try_iter().filter_map(Result::err) {
            tracing::warn!("{failure}");
        }
    }

    /// Appends a record to `metrics.jsonl`.
    pub fn record(&mut self, value: serde_json::Value) {
        self.send(MetricsItem::Record(value));
    }

    /// Lists a sample that could not be used.
    pub fn bad_sample(&mut self, path: &Path, reason: &str) {
        self.send(MetricsItem::BadSample(path.to_owned(), reason.to_owned()));
    }

    /// TensorBoard scalars of `step`.
    pub fn scalars(&mut self, step: u64, values: &[(&str, f64)]) {
        self.send(MetricsItem::Scalars(step, values.iter().map(|(tag, value)| ((*tag).to_owned(), *value)).collect()));
    }

    /// Waits until everything handed over is written (at the end of a run).
    pub fn finish(&mut self) {
        if let Some(writer) = self.writer.take() {
            writer.finish();
        }
        self.report_failures();
    }

    /// Where the metrics go.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for MetricsSink {
    fn drop(&mut self) {
        self.finish();
    }
}

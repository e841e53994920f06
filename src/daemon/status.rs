//! The live state of a run, in one place: the training loop writes it at every log interval, the
//! HTTP status server and the dashboard read it, and `status.json` in the run folder keeps the
//! last copy on disk so that `lgd status` works for finished, stopped and crashed runs alike.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::atomic_file::write_atomically;

/// Points of recent history kept for the dashboard's curves.
const HISTORY: usize = 2000;

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Start-up checks, loading the teacher, resuming.
    Starting,
    /// In the training loop.
    Training,
    /// Evaluating on the val split.
    Validating,
    /// Ended at its last planned step.
    Finished,
    /// Stopped on request (signal or HTTP) with a checkpoint.
    Stopped,
    /// Stopped by an error (the message says which).
    Failed,
}

/// How one stage spent the run's wall time so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageStatus {
    /// `decode` (CPU workers), `device stage` (upload, photometric half, teacher), `train step`
    /// (student forward, loss, backward, optimiser), `bank maintenance` (targets, LGKA update),
    /// `validation`, `checkpoint`.
    pub name: String,
    /// Fraction of wall time doing its work (for a pool: averaged over its threads).
    pub busy_fraction: f64,
    /// Fraction of wall time waiting for its input.
    pub wait_fraction: f64,
}

/// A channel's fill level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueStatus {
    /// What waits in it.
    pub name: String,
    /// Items in it now.
    pub depth: usize,
    /// Its capacity.
    pub capacity: usize,
}

/// How far a validation in progress has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationProgress {
    /// Images evaluated.
    pub images: usize,
    /// Images in the split.
    pub of: usize,
}

/// One logged step, for curves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    /// Step.
    pub step: u64,
    /// Total loss.
    pub loss: f64,
    /// H over the image bank.
    pub image_loss: f64,
    /// H over the text bank.
    pub text_loss: f64,
    /// Learning rate.
    pub lr: f64,
    /// Training images per second.
    pub images_per_second: f64,
}

/// Everything `GET /status` and `lgd status` show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStatus {
    /// The run's name (config `run.name`, else the run folder's name).
    pub run_id: String,
    /// The training process (to tell a crashed run from a live one).
    pub pid: u32,
    /// Life stage.
    pub state: RunState,
    /// Unix seconds when this process started the run.
    pub started_unix: f64,
    /// Unix seconds of this snapshot.
    pub updated_unix: f64,
    /// Epoch in progress.
    pub epoch: u64,
    /// Steps taken.
    pub step: u64,
    /// Steps in the whole run.
    pub total_steps: u64,
    /// Steps per epoch.
    pub steps_per_epoch: u64,
    /// Training images per second of this process.
    pub images_per_second: f64,
    /// Seconds left at the current speed.
    pub eta_seconds: Option<f64>,
    /// Latest logged step.
    pub last: Option<HistoryPoint>,
    /// Per-stage utilisation.
    pub stages: Vec<StageStatus>,
    /// The stage that bounds throughput, in words.
    pub bound_by: Option<String>,
    /// Channel fill levels.
    pub queues: Vec<QueueStatus>,
    /// Training files replaced because they could not be used.
    pub bad_samples: usize,
    /// Steps skipped (non-finite loss or fp16 overflow).
    pub skipped_steps: u64,
    /// The newest checkpoint: at start the newest in the run folder, then each one written.
    pub last_checkpoint: Option<PathBuf>,
    /// sha256 of the config in force (changes on a reload).
    pub config_digest: String,
    /// The latest validation result.
    pub validation: Option<serde_json::Value>,
    /// The validation in progress, if one is (absent from older status files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validating: Option<ValidationProgress>,
    /// Why the run stopped, or the latest warning worth a human's eye.
    pub message: Option<String>,
    /// While starting: the phase of start-up in progress; once stopped during start-up, the phase
    /// it stopped in (absent otherwise, and from older status files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_phase: Option<super::StartupPhase>,
    /// Recent logged steps, oldest first.
    pub history: VecDeque<HistoryPoint>,
}

/// Unix time now, in seconds.
pub fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// sha256 of a config's TOML, hex.
pub fn config_digest(toml: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(toml.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

impl RunStatus {
    /// The status of a run that is just starting.
    pub fn starting(run_id: String, config_toml: &str) -> Self {
        let now = unix_now();
        Self {
            run_id,
            pid: std::process::id(),
            state: RunState::Starting,
            started_unix: now,
            updated_unix: now,
            epoch: 0,
            step: 0,
            total_steps: 0,
            steps_per_epoch: 0,
            images_per_second: 0.0,
            eta_seconds: None,
            last: None,
            stages: Vec::new(),
            bound_by: None,
            queues: Vec::new(),
            bad_samples: 0,
            skipped_steps: 0,
            last_checkpoint: None,
            config_digest: config_digest(config_toml),
            validation: None,
            validating: None,
            message: None,
            startup_phase: None,
            history: VecDeque::new(),
        }
    }

    /// Records a logged step (and keeps the history bounded).
    pub fn push_point(&mut self, point: HistoryPoint) {
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(point.clone());
        self.last = Some(point);
    }

    /// The status file of a run folder.
    pub fn file(run_dir: &Path) -> PathBuf {
        run_dir.join("status.json")
    }

    /// Reads a run folder's last status.
    pub fn read(run_dir: &Path) -> Result<Self, StatusFileError> {
        let path = Self::file(run_dir);
        let text =
            std::fs::read_to_string(&path).map_err(|e| StatusFileError { path: path.clone(), source: e.into() })?;
        serde_json::from_str(&text).map_err(|e| StatusFileError { path, source: e.into() })
    }
}

/// Why `status.json` could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct StatusFileError {
    /// The file.
    pub path: PathBuf,
    /// Unreadable, or not a status.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// The shared, live status: cheap to clone, written by the loop, read by anyone.
#[derive(Debug, Clone)]
pub struct StatusBoard {
    status: Arc<Mutex<RunStatus>>,
    file: PathBuf,
}

impl StatusBoard {
    /// A board for a run in `run_dir`, starting from `status`.
    pub fn new(run_dir: &Path, status: RunStatus) -> Self {
        Self { status: Arc::new(Mutex::new(status)), file: RunStatus::file(run_dir) }
    }

    /// Changes the status.
    pub fn update(&self, change: impl FnOnce(&mut RunStatus)) {
        let mut status = self.status.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        change(&mut status);
        status.updated_unix = unix_now();
    }

    /// A copy of the status now.
    pub fn snapshot(&self) -> RunStatus {
        self.status.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Writes `status.json` (atomically: a reader never sees half a file). Failure is logged, not
    /// fatal: the status file is a convenience, training is the job.
    pub fn persist(&self) {
        let json = serde_json::to_vec_pretty(&self.snapshot()).expect("a status serialises");
        if let Err(e) = write_atomically(&self.file, &json) {
            tracing::warn!("could not write {}: {e}", self.file.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_is_bounded_and_the_file_round_trips() {
        let dir = std::env::temp_dir().join(format!("lgd-status-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let board = StatusBoard::new(&dir, RunStatus::starting("r".into(), "a = 1"));
        for step in 0..(HISTORY as u64 + 5) {
            board.update(|s| {
                s.push_point(HistoryPoint {
                    step,
                    loss: 1.0,
                    image_loss: 0.5,
                    text_loss: 0.5,
                    lr: 0.1,
                    images_per_second: 9.0,
                })
            });
        }
        board.persist();
        let read = RunStatus::read(&dir).unwrap();
        assert_eq!(read.history.len(), HISTORY);
        assert_eq!(read.history.front().unwrap().step, 5);
        assert_eq!(read.last.as_ref().unwrap().step, HISTORY as u64 + 4);
        assert_eq!(read, board.snapshot());
        std::fs::remove_dir_all(dir).unwrap();
    }
}

//! Where the training loop's wall time goes — waiting for data, waiting for the device stage, the
//! step itself, validation, checkpoints — with the decode pool's, the device stage's and bank
//! maintenance's own busy time, turned into the per-stage report that says which stage bounded throughput.

use std::time::{Duration, Instant};

use super::status::StageStatus;

/// The busy time the stages beside the loop report of themselves.
pub(super) struct OtherStagesBusy {
    /// All decode workers together.
    pub decode: Duration,
    /// How many decode workers there are.
    pub decode_workers: usize,
    /// The device stage.
    pub device: Duration,
    /// Bank maintenance.
    pub bank: Duration,
}

/// Time spent by the loop in each of its activities since the run (or resume) started.
#[derive(Debug)]
pub(super) struct StageClock {
    started: Instant,
    /// Blocked on the data pipeline.
    pub waiting: Duration,
    /// Blocked on the device stage (upload, photometric half, teacher forward).
    pub teacher_wait: Duration,
    /// The step: student forward/backward and optimiser, and waiting for the bank's targets.
    pub computing: Duration,
    /// Validation passes.
    pub validating: Duration,
    /// Checkpoint writes.
    pub checkpointing: Duration,
}

impl StageClock {
    pub(super) fn start() -> Self {
        Self {
            started: Instant::now(),
            waiting: Duration::ZERO,
            teacher_wait: Duration::ZERO,
            computing: Duration::ZERO,
            validating: Duration::ZERO,
            checkpointing: Duration::ZERO,
        }
    }

    /// Time spent in the training loop proper (waiting + computing): the basis of img/s.
    pub(super) fn training_time(&self) -> Duration {
        self.waiting + self.teacher_wait + self.computing
    }

    /// Per-stage utilisation over the wall time so far, from the other stages' own busy times.
    pub(super) fn stages(&self, busy: OtherStagesBusy) -> Vec<StageStatus> {
        let wall = self.started.elapsed().as_secs_f64().max(1e-9);
        let device_busy = busy.device.as_secs_f64() / wall;
        let decode_busy = busy.decode.as_secs_f64() / (wall * busy.decode_workers.max(1) as f64);
        let bank_busy = busy.bank;
        let stage = |name: &str, busy: f64, wait: f64| StageStatus {
            name: name.to_owned(),
            busy_fraction: busy.clamp(0.0, 1.0),
            wait_fraction: wait.clamp(0.0, 1.0),
        };
        vec![
            // Decode workers wait for jobs or for room downstream when not busy.
            stage("decode", decode_busy, 1.0 - decode_busy),
            // The device stage waits for host batches or for room in its output channel.
            stage("device stage", device_busy, 1.0 - device_busy),
            stage(
                "train step",
                self.computing.as_secs_f64() / wall,
                (self.waiting + self.teacher_wait).as_secs_f64() / wall,
            ),
            // Bank maintenance waits for the step's keys when not busy.
            stage("bank maintenance", bank_busy.as_secs_f64() / wall, 1.0 - bank_busy.as_secs_f64() / wall),
            stage("validation", self.validating.as_secs_f64() / wall, 0.0),
            stage("checkpoint", self.checkpointing.as_secs_f64() / wall, 0.0),
        ]
    }

    /// The stage that bounds throughput, in words.
    pub(super) fn bound_by(&self) -> &'static str {
        let training = self.training_time().as_secs_f64().max(1e-9);
        if self.waiting.as_secs_f64() / training > 0.5 {
            "the data pipeline (decode/augment): the training step waits for batches"
        } else if self.teacher_wait.as_secs_f64() / training > 0.5 {
            "the device stage (upload, photometric, teacher): the student step waits for its keys"
        } else {
            "the student step: prepared batches wait for it"
        }
    }
}

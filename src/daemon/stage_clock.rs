//! Where the training loop's wall time goes — waiting for data, the step itself, validation,
//! checkpoints — and the decode pool's utilisation, turned into the per-stage report that says
//! which stage bounded throughput.

use std::time::{Duration, Instant};

use lgd_actors::data_pipeline::DataPipeline;

use super::status::{QueueStatus, StageStatus};

/// Time spent by the loop in each of its activities since the run (or resume) started.
#[derive(Debug)]
pub(super) struct StageClock {
    started: Instant,
    /// Blocked on the data pipeline.
    pub waiting: Duration,
    /// Teacher forward, student forward/backward, optimiser and bank update.
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
            computing: Duration::ZERO,
            validating: Duration::ZERO,
            checkpointing: Duration::ZERO,
        }
    }

    /// Time spent in the training loop proper (waiting + computing): the basis of img/s.
    pub(super) fn training_time(&self) -> Duration {
        self.waiting + self.computing
    }

    /// Per-stage utilisation over the wall time so far.
    pub(super) fn stages(&self, pipeline: &DataPipeline) -> Vec<StageStatus> {
        let wall = self.started.elapsed().as_secs_f64().max(1e-9);
        let stats = pipeline.stats();
        let decode_busy = stats.busy().as_secs_f64() / (wall * stats.workers().max(1) as f64);
        let stage = |name: &str, busy: f64, wait: f64| StageStatus {
            name: name.to_owned(),
            busy_fraction: busy.clamp(0.0, 1.0),
            wait_fraction: wait.clamp(0.0, 1.0),
        };
        vec![
            // Decode workers wait for jobs or for room downstream when not busy.
            stage("decode", decode_busy, 1.0 - decode_busy),
            stage("train step", self.computing.as_secs_f64() / wall, self.waiting.as_secs_f64() / wall),
            stage("validation", self.validating.as_secs_f64() / wall, 0.0),
            stage("checkpoint", self.checkpointing.as_secs_f64() / wall, 0.0),
        ]
    }

    /// The stage that bounds throughput, in words.
    pub(super) fn bound_by(&self) -> &'static str {
        let training = self.training_time().as_secs_f64().max(1e-9);
        if self.waiting.as_secs_f64() / training > 0.5 {
            "the data pipeline (decode/augment): the training step waits for batches"
        } else {
            "the training step (teacher + student): batches wait for it"
        }
    }
}

/// Fill levels of the data pipeline's channels.
pub(super) fn queues(pipeline: &DataPipeline) -> Vec<QueueStatus> {
    let (decoded, batches) = pipeline.capacities();
    vec![
        QueueStatus { name: "decoded samples".into(), depth: pipeline.decoded_waiting(), capacity: decoded },
        QueueStatus { name: "host batches".into(), depth: pipeline.ready(), capacity: batches },
    ]
}

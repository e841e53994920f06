//! The end of a run, whatever ended the loop: the final checkpoint (unless the trainer is
//! unusable or a guard wrote its own), the last status, and the summary with the digests every
//! rank of a group must agree on.

use std::time::{Duration, Instant};

use tch::Device;

use super::{Ending, Session, SHUTDOWN_GRACE};
use crate::daemon::out_of_memory::with_memory_hint;
use crate::daemon::status::RunState;
use crate::daemon::summary::TrainSummary;
use crate::daemon::DaemonError;

impl Session<'_> {
    /// Final checkpoint, status and summary, whatever ended the loop.
    pub(in crate::daemon) fn finish(
        mut self,
        ending: Result<Ending, DaemonError>,
    ) -> Result<TrainSummary, DaemonError> {
        let ending = ending.map_err(|error| with_memory_hint(error, &self.config));
        self.progress.finish();
        self.settle_verdicts(); // the count is complete; a run that failed is not stopped again
        let skipped = self.nonfinite.total;
        // A guard wrote its own (rewound) checkpoint, and a failed write under the `stop` policy
        // leaves the previous one standing; anything else saves where it stands. Either way the
        // writer finishes every queued checkpoint before the run reports its end.
        let ending = match ending {
            Ok(Ending::Guarded(stop)) => Err(stop.into()),
            other if self.checkpoints.stopped => other,
            other => {
                let start = Instant::now();
                let saved = self.checkpoint().and_then(|()| self.checkpoints.wait(&self.config));
                self.clock.checkpointing += start.elapsed();
                if let (Err(_), Err(error)) = (&other, &saved) {
                    // The run's own error is what it ends with; this one must not go unsaid.
                    tracing::error!("no final checkpoint: {error}");
                }
                other.and_then(|ending| saved.map(|()| ending))
            }
        };
        if let Err(error) = self.checkpoints.wait(&self.config) {
            tracing::error!("{error}");
        }
        let (stages, queues) = (self.clock.stages(self.data.busy(self.bank_busy())), self.data.queues());
        self.board.update(|s| (s.stages, s.queues) = (stages, queues));
        let images_per_second = self.images_per_second();
        let (bank_digest, weights_digest) = match ending.is_ok() {
            true => (Some(self.bank_digest()), Some(self.weights_digest())),
            false => (None, None),
        };
        let left_behind = self.data.shutdown_within(SHUTDOWN_GRACE);
        if left_behind > 0 {
            tracing::warn!(threads = left_behind, "pipeline threads still blocked at exit were left behind");
        }
        let training = self.clock.training_time().as_secs_f64().max(1e-9);
        let summary = TrainSummary {
            steps: self.student.step_count(),
            last_checkpoint: self.checkpoints.last.clone(),
            stopped_by_signal: matches!(ending, Ok(Ending::Requested)),
            images_per_second,
            data_wait_fraction: self.clock.waiting.as_secs_f64() / training,
            already_finished: false,
            stopped_during_startup: None,
            requeued: None,
        };
        let bound = self.clock.bound_by();
        let (state, message) = match &ending {
            Ok(Ending::Planned) => (RunState::Finished, None),
            Ok(Ending::Requested) => (RunState::Stopped, Some("stopped on request".to_owned())),
            Ok(Ending::Guarded(stop)) => (RunState::Failed, Some(stop.to_string())),
            Err(error) => (RunState::Failed, Some(error.to_string())),
        };
        let (step, last) = (self.student.step_count(), self.checkpoints.last.clone());
        self.board.update(|s| {
            (s.state, s.step, s.skipped_steps) = (state, step, skipped);
            // None written by this process: the one it resumed from is still the newest.
            s.last_checkpoint = last.or(s.last_checkpoint.take());
            if message.is_some() {
                s.message = message;
            }
        });
        self.board.persist();
        self.metrics.finish(); // every record is on disk before the run says it ended
        ending?;
        for stage in self.board.snapshot().stages {
            tracing::info!(stage = %stage.name, busy = stage.busy_fraction, wait = stage.wait_fraction, "stage utilisation");
        }
        tracing::info!(
            steps = summary.steps,
            images_per_second = summary.images_per_second,
            data_wait_fraction = summary.data_wait_fraction,
            metrics = %self.metrics.path().display(),
            visual_bank_sha256 = %bank_digest.unwrap_or_default(),
            weights_sha256 = %weights_digest.unwrap_or_default(),
            "finished; throughput was bounded by {bound}"
        );
        Ok(summary)
    }

    pub(super) fn images_per_second(&self) -> f64 {
        let batch = self.config.data.batch_size;
        ((self.student.step_count() - self.started_at_step) as usize * batch) as f64
            / self.clock.training_time().as_secs_f64().max(1e-9)
    }

    /// Time bank maintenance spent working (zero once the student stage is gone).
    pub(super) fn bank_busy(&self) -> Duration {
        self.student.call(|trainer| trainer.bank_busy()).unwrap_or_default()
    }

    /// SHA-256 of the visual bank after the last step, or why there is none.
    fn bank_digest(&self) -> String {
        match self.student.call(|trainer| trainer.visual_bank().map(|bank| bank.digest())) {
            Ok(Ok(digest)) => digest,
            Ok(Err(error)) => error.to_string(),
            Err(error) => error.to_string(),
        }
    }

    /// SHA-256 of the student's variables (names in order, then values): every rank of a group
    /// must end with the same, and the last log line carries it so that they can be compared.
    fn weights_digest(&self) -> String {
        let digest = |trainer: &mut crate::train::Trainer<crate::daemon::AnyTeacher>| {
            use sha2::{Digest, Sha256};
            let mut variables: Vec<_> = trainer.vars().variables().into_iter().collect();
            variables.sort_by(|a, b| a.0.cmp(&b.0));
            let mut hasher = Sha256::new();
            for (name, tensor) in variables {
                let flat = tensor.to_device(Device::Cpu).to_kind(tch::Kind::Float).contiguous().view([-1]);
                hasher.update(name.as_bytes());
                Vec::<f32>::try_from(&flat)
                    .expect("float variables")
                    .iter()
                    .for_each(|v| hasher.update(v.to_le_bytes()));
            }
            hasher.finalize().iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        self.student.call(digest).unwrap_or_else(|error| error.to_string())
    }
}

//! The step records, as `Session` methods: at each log interval (and the run's last step) the
//! losses read back, the interval's mean loss, the stage figures, to the log, `metrics.jsonl`,
//! TensorBoard and `/status`. A stop request between two intervals records the step it stops
//! at, so the steps since the last record are in the metrics even though the run resumes after them.

use std::time::{Duration, Instant};

use serde_json::json;
use tch::Tensor;

use super::Session;
use crate::daemon::memory::MemorySample;
use crate::daemon::replica::global_losses;
use crate::daemon::status::HistoryPoint;
use crate::daemon::DaemonError;
use crate::train::StepReport;

impl Session<'_> {
    /// Records the step just taken (in a replica, with every rank's losses: all ranks call it at
    /// the same step).
    pub(super) fn record_step(
        &mut self,
        report: StepReport,
        epoch: u64,
        compute_start: Instant,
    ) -> Result<(), DaemonError> {
        self.unrecorded = None;
        let mean_loss = self.interval_loss.take(self.device);
        let (report, mean_loss) = if self.student.is_replica() {
            self.student.call(move |trainer| global_losses(trainer, report, mean_loss))??
        } else {
            (report, mean_loss)
        };
        self.log_step(&report, &mean_loss, epoch, compute_start);
        Ok(())
    }

    /// At a stop request: records the last step taken when no interval has recorded it (the
    /// verdicts are read first, so the record counts every skipped step).
    pub(super) fn record_unrecorded(&mut self) -> Result<(), DaemonError> {
        let Some((report, epoch)) = self.unrecorded.take() else { return Ok(()) };
        self.settle_verdicts();
        self.record_step(report, epoch, Instant::now())
    }

    fn log_step(&mut self, report: &StepReport, mean_loss: &Tensor, epoch: u64, compute_start: Instant) {
        let loss = report.loss.double_value(&[]); // the read-backs of the log interval
        let mean_loss = Some(mean_loss.double_value(&[])).filter(|m| m.is_finite());
        self.clock.computing += compute_start.elapsed();
        let images_per_second = self.images_per_second();
        let point = HistoryPoint {
            step: self.student.step_count(),
            loss,
            image_loss: report.image_loss.double_value(&[]),
            text_loss: report.text_loss.double_value(&[]),
            lr: report.lr,
            images_per_second,
        };
        let (stages, queues) = (self.clock.stages(self.data.busy(self.bank_busy())), self.data.queues());
        let training = self.clock.training_time().as_secs_f64().max(1e-9);
        let memory = MemorySample::take(self.device);
        let record = json!({
            "step": point.step, "epoch": epoch, "loss": loss, "mean_loss": mean_loss, "image_loss": point.image_loss, "text_loss": point.text_loss,
            "lr": report.lr, "skipped": StepReport::read(&report.skipped), "nonfinite": StepReport::read(&report.nonfinite), "images_per_second": images_per_second,
            "data_wait_fraction": self.clock.waiting.as_secs_f64() / training, "teacher_wait_fraction": self.clock.teacher_wait.as_secs_f64() / training, "batches_ready": self.data.ready(),
            "bad_samples": self.reported_bad.len(), "skipped_steps": self.nonfinite.total,
            "stages": stages, "queues": queues, "memory": memory,
            "teacher_cache": self.teacher_replay.as_ref().map(|(_, hits, misses)| json!({"hits": hits, "misses": misses})),
        });
        self.metrics.record(record);
        let mut scalars = vec![
            ("loss/total", loss),
            ("loss/image", point.image_loss),
            ("loss/text", point.text_loss),
            ("lr", report.lr),
            ("throughput/images_per_second", images_per_second),
            ("data/bad_samples", self.reported_bad.len() as f64),
            ("data/skipped_steps", self.nonfinite.total as f64),
        ];
        let stage_tags: Vec<(String, f64)> = stages
            .iter()
            .flat_map(|s| {
                [
                    (format!("stage_busy/{}", s.name), s.busy_fraction),
                    (format!("stage_wait/{}", s.name), s.wait_fraction),
                ]
            })
            .chain(queues.iter().map(|q| (format!("queue_depth/{}", q.name), q.depth as f64)))
            .collect();
        scalars.extend(stage_tags.iter().map(|(tag, value)| (tag.as_str(), *value)));
        scalars.extend(mean_loss.map(|mean| ("loss/interval_mean", mean)));
        scalars.extend(memory.scalars());
        self.write_scalars(point.step, &scalars);
        let (step, epoch_now, skipped) = (self.student.step_count(), self.student.epoch(), self.nonfinite.total);
        let step_logged = point.step;
        let bound = self.clock.bound_by().to_owned();
        self.board.update(|s| {
            let left = s.total_steps.saturating_sub(step) as f64 * self.config.data.batch_size as f64;
            s.eta_seconds = (images_per_second > 0.0).then(|| left / images_per_second);
            (s.step, s.epoch, s.images_per_second, s.skipped_steps) = (step, epoch_now, images_per_second, skipped);
            (s.stages, s.queues, s.bound_by) = (stages, queues, Some(bound));
            s.push_point(point);
        });
        // The log line comes after the board update: whoever reads "step N" in the log then finds
        // at least step N on `/status`.
        if self.progress.visible() {
            tracing::debug!(step = step_logged, epoch, loss, lr = report.lr, images_per_second, "step");
        } else {
            tracing::info!(step = step_logged, epoch, loss, lr = report.lr, images_per_second, "step");
        }
        self.progress.update(epoch, step_logged, images_per_second, loss, report.lr);
        if self.persisted_at.elapsed() >= Duration::from_secs(1) {
            self.board.persist();
            self.persisted_at = Instant::now();
        }
    }
}

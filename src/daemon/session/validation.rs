//! Validation as a `Session` method: the student is evaluated on its own stage's thread (the set
//! travels there and back), and the result goes to the log, the metrics, TensorBoard, the status
//! board and, when it beats every earlier one, the best checkpoint. A long one (an ImageNet val
//! split on a CPU) says how far it has come.

use std::time::{Duration, Instant};

use serde_json::json;

use super::Session;
use crate::daemon::checkpoint_writer::BestScore;
use crate::daemon::progress::Progress;
use crate::daemon::status::{RunState, StatusBoard, ValidationProgress};
use crate::models::teacher::Teacher;

/// How often a validation in progress is logged and written to `status.json`.
const REPORT_EVERY: Duration = Duration::from_secs(30);

/// How far a validation has come: on the progress bar at each chunk; in the log and the status
/// file every `REPORT_EVERY`.
struct Reporter {
    of: usize,
    every: Duration,
    bar: Progress,
    board: StatusBoard,
    last: Instant,
}

impl Reporter {
    fn at(&mut self, images: usize) {
        self.bar.validating(images, self.of);
        if self.last.elapsed() >= self.every {
            self.last = Instant::now();
            tracing::info!(images, of = self.of, "validating");
            self.board.update(|s| s.validating = Some(ValidationProgress { images, of: self.of }));
            self.board.persist();
        }
    }
}

impl Session<'_> {
    pub(super) fn validate(&mut self) {
        let Some(mut set) = self.validation.take() else { return };
        self.board.update(|s| s.state = RunState::Validating);
        let start = Instant::now();
        let (signals, classes, device) = (self.control.signals().clone(), self.classes, self.device);
        let mut reporter = Reporter {
            of: set.len(),
            every: REPORT_EVERY,
            bar: self.progress.clone(),
            board: self.board.clone(),
            last: start,
        };
        // On the student's thread, which owns the student; the set goes there and comes back.
        let outcome = self.student.call(move |trainer| {
            let matches = trainer.teacher().bank().classes() as usize == classes;
            let mut go_on = |images| {
                reporter.at(images);
                !signals.stop_requested()
            };
            let result = set.evaluate_while(trainer.student(), trainer.teacher(), matches, device, &mut go_on);
            (set, result)
        });
        self.clock.validating += start.elapsed();
        self.board.update(|s| {
            s.state = RunState::Training;
            s.validating = None;
        });
        let step = self.student.step_count();
        let result = match outcome {
            Ok((set, Ok(result))) => {
                self.validation = Some(set);
                result
            }
            Ok((set, Err(error))) => {
                self.validation = Some(set);
                tracing::error!(step, "validation: {error}");
                return;
            }
            Err(error) => {
                tracing::error!(step, "validation: {error}");
                return;
            }
        };
        let Some(result) = result else {
            tracing::info!(step, "validation interrupted by a stop request");
            return;
        };
        tracing::info!(
            step,
            agreement = result.agreement,
            student_top1 = ?result.student_top1,
            teacher_top1 = ?result.teacher_top1,
            images = result.images,
            "validation"
        );
        let value = json!({ "step": step, "validation": result });
        self.metrics.record(value.clone());
        let mut scalars = vec![("validation/agreement", result.agreement)];
        scalars.extend(result.student_top1.map(|v| ("validation/student_top1", v)));
        scalars.extend(result.teacher_top1.map(|v| ("validation/teacher_top1", v)));
        self.write_scalars(step, &scalars);
        self.board.update(|s| s.validation = Some(value));
        // The untrained student (step 0) is a baseline, not a candidate.
        if self.config.checkpoint.keep_best && step > 0 {
            let score = BestScore::of(&result, step);
            if self.checkpoints.beats_best(&score) {
                let state = self.student.call(|trainer| trainer.state()).and_then(|state| Ok(state?));
                let saved = state.and_then(|state| self.checkpoints.save_best(state, score, &self.config));
                if let Err(error) = saved {
                    tracing::error!("best checkpoint: {error}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::status::RunStatus;

    #[test]
    fn progress_reaches_the_status_file_at_most_once_an_interval() {
        let dir = std::env::temp_dir().join(format!("lgd-validation-progress-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let board = StatusBoard::new(&dir, RunStatus::starting("r".into(), "a = 1"));
        let mut reporter = Reporter {
            of: 50_000,
            every: Duration::from_secs(3600),
            bar: Progress::new(10, 0),
            board: board.clone(),
            last: Instant::now(),
        };
        reporter.at(32);
        assert!(!RunStatus::file(&dir).exists(), "not before the interval has passed");
        reporter.every = Duration::ZERO;
        reporter.at(64);
        assert_eq!(RunStatus::read(&dir).unwrap().validating, Some(ValidationProgress { images: 64, of: 50_000 }));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

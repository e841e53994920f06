//! Validation as a `Session` method: the student is evaluated on its own stage's thread (the set
//! travels there and back), and the result goes to the log, the metrics, TensorBoard, the status
//! board and, when it beats every earlier one, the best checkpoint.

use std::time::Instant;

use serde_json::json;

use super::checkpointing::BestScore;
use super::session::Session;
use super::status::RunState;
use crate::models::teacher::Teacher;

impl Session<'_> {
    pub(super) fn validate(&mut self) {
        let Some(mut set) = self.validation.take() else { return };
        self.board.update(|s| s.state = RunState::Validating);
        let start = Instant::now();
        let (signals, classes, device) = (self.signals.clone(), self.classes, self.device);
        // On the student's thread, which owns the student; the set goes there and comes back.
        let outcome = self.student.call(move |trainer| {
            let matches = trainer.teacher().bank().classes() as usize == classes;
            let result = set.evaluate_until(trainer.student(), trainer.teacher(), matches, device, &|| signals.stop_requested());
            (set, result)
        });
        self.clock.validating += start.elapsed();
        self.board.update(|s| s.state = RunState::Training);
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
                let state = self.student.call(|trainer| trainer.state().map_err(|e| e.to_string())).map_err(|e| e.to_string()).and_then(|state| state);
                let saved = state.and_then(|state| self.checkpoints.save_best(state, score, &self.config).map_err(|e| e.to_string()));
                if let Err(error) = saved {
                    tracing::error!("best checkpoint: {error}");
                }
            }
        }
    }
}

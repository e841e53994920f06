//! `metrics.jsonl` read into per-step series. The file is appended to by the daemon, so its last
//! line may be half-written and a resumed run repeats the steps after its checkpoint: a malformed
//! line is reported and skipped, and for a repeated step the latest record wins (the run that went on).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

/// The values of one training record that the plot shows (absent or non-finite: `None`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TrainingPoint {
    /// The total loss.
    pub loss: Option<f64>,
    /// The image-side part of the loss.
    pub image_loss: Option<f64>,
    /// The text-side part of the loss.
    pub text_loss: Option<f64>,
    /// The learning rate.
    pub lr: Option<f64>,
    /// Training throughput.
    pub images_per_second: Option<f64>,
}

/// The values of one validation record (top-1 is `null` when the run has no labels for it).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ValidationPoint {
    /// Student–teacher agreement.
    pub agreement: Option<f64>,
    /// Student zero-shot top-1.
    pub student_top1: Option<f64>,
    /// Teacher zero-shot top-1.
    pub teacher_top1: Option<f64>,
}

/// A line that could not be read.
#[derive(Debug, Clone)]
pub struct Malformed {
    /// 1-based line number.
    pub line: usize,
    /// Why.
    pub reason: RecordProblem,
}

/// Why a line of `metrics.jsonl` is not a record (the message follows the file and line number).
#[derive(Debug, Clone, thiserror::Error)]
pub enum RecordProblem {
    /// Not valid JSON (usually the half-written last line of a running daemon's file).
    #[error("not JSON ({0})")]
    NotJson(#[source] Arc<serde_json::Error>),
    /// JSON, but not an object.
    #[error("not a JSON object")]
    NotAnObject,
    /// An object without an integer `step`.
    #[error("no integer \"step\"")]
    NoStep,
    /// A `validation` key that holds no object.
    #[error("\"validation\" is not an object")]
    ValidationNotAnObject,
}

/// Every record of a metrics file, by step.
#[derive(Debug, Clone, Default)]
pub struct Curves {
    /// Training records.
    pub training: BTreeMap<u64, TrainingPoint>,
    /// Validation records.
    pub validation: BTreeMap<u64, ValidationPoint>,
    /// Lines skipped.
    pub malformed: Vec<Malformed>,
}

impl Curves {
    /// Reads JSON lines; blank lines are ignored, unknown keys too.
    pub fn parse(text: &str) -> Self {
        let mut curves = Self::default();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            if let Err(reason) = curves.add(line) {
                curves.malformed.push(Malformed { line: index + 1, reason });
            }
        }
        curves
    }

    fn add(&mut self, line: &str) -> Result<(), RecordProblem> {
        let value: Value = serde_json::from_str(line).map_err(|e| RecordProblem::NotJson(Arc::new(e)))?;
        let record = value.as_object().ok_or(RecordProblem::NotAnObject)?;
        let step = record.get("step").and_then(Value::as_u64).ok_or(RecordProblem::NoStep)?;
        match record.get("validation") {
            Some(Value::Object(validation)) => {
                let point = ValidationPoint {
                    agreement: number(validation, "agreement"),
                    student_top1: number(validation, "student_top1"),
                    teacher_top1: number(validation, "teacher_top1"),
                };
                self.validation.insert(step, point);
            }
            Some(_) => return Err(RecordProblem::ValidationNotAnObject),
            None => {
                let point = TrainingPoint {
                    loss: number(record, "loss"),
                    image_loss: number(record, "image_loss"),
                    text_loss: number(record, "text_loss"),
                    lr: number(record, "lr"),
                    images_per_second: number(record, "images_per_second"),
                };
                // A record of some other kind (no value we draw) is not an error.
                if point != TrainingPoint::default() {
                    self.training.insert(step, point);
                }
            }
        }
        Ok(())
    }

    /// (step, value) of a training quantity, in step order, values that are present and finite.
    pub fn training_series(&self, pick: impl Fn(&TrainingPoint) -> Option<f64>) -> Vec<(f64, f64)> {
        series(&self.training, pick)
    }

    /// (step, value) of a validation quantity.
    pub fn validation_series(&self, pick: impl Fn(&ValidationPoint) -> Option<f64>) -> Vec<(f64, f64)> {
        series(&self.validation, pick)
    }

    /// The last step any record has.
    pub fn last_step(&self) -> Option<u64> {
        // `None` orders before any `Some`.
        self.training.keys().next_back().copied().max(self.validation.keys().next_back().copied())
    }
}

fn series<T>(map: &BTreeMap<u64, T>, pick: impl Fn(&T) -> Option<f64>) -> Vec<(f64, f64)> {
    map.iter().filter_map(|(&step, point)| pick(point).map(|v| (step as f64, v))).collect()
}

/// A finite number under `key`; `null`, absent, a string or NaN/inf give `None`.
fn number(object: &Map<String, Value>, key: &str) -> Option<f64> {
    object.get(key).and_then(Value::as_f64).filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_validation_unknown_keys_and_bad_lines() {
        let text = concat!(
            r#"{"step":20,"epoch":0,"loss":7.5,"image_loss":4.0,"text_loss":3.5,"lr":0.1,"skipped":false,"images_per_second":100.0,"future_key":[1]}"#,
            "\n\n",
            "{\"step\":40,\"loss\":\n",
            r#"{"step":40,"validation":{"agreement":0.31,"student_top1":null,"teacher_top1":0.6,"images":50}}"#,
            "\n[1,2]\n",
            r#"{"loss":1.0}"#,
            "\n",
            r#"{"step":60,"checkpoint":"step-60.ckpt"}"#,
            "\n",
        );
        let curves = Curves::parse(text);
        assert_eq!(curves.training.len(), 1);
        assert_eq!(curves.training[&20].lr, Some(0.1));
        assert_eq!(
            curves.validation[&40],
            ValidationPoint { agreement: Some(0.31), student_top1: None, teacher_top1: Some(0.6) }
        );
        let lines: Vec<usize> = curves.malformed.iter().map(|m| m.line).collect();
        assert_eq!(lines, vec![3, 5, 6]);
        assert_eq!(curves.last_step(), Some(40));
    }

    #[test]
    fn a_resumed_run_overrides_repeated_steps_and_non_finite_values_are_dropped() {
        let text = concat!(
            r#"{"step":10,"loss":5.0}"#,
            "\n",
            r#"{"step":20,"loss":4.0}"#,
            "\n",
            r#"{"step":10,"loss":4.5}"#,
            "\n",
            r#"{"step":30,"loss":"NaN","lr":0.05}"#,
            "\n",
        );
        let curves = Curves::parse(text);
        assert_eq!(curves.training_series(|p| p.loss), vec![(10.0, 4.5), (20.0, 4.0)]);
        assert_eq!(curves.training_series(|p| p.lr), vec![(30.0, 0.05)]);
    }
}

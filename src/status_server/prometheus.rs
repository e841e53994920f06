//! `GET /metrics`: a run's status in the Prometheus text exposition format (version 0.0.4), so any
//! Prometheus or Grafana Agent can scrape a run without a plugin. Names are `lgd_*` with their unit
//! in the name (`_seconds`, `_ratio`, `_total` for counters), as Prometheus' naming guide asks.

use std::fmt::Write;

use crate::daemon::status::RunStatus;

/// The `Content-Type` of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Builds an exposition: every family's `# HELP` and `# TYPE` come right before its samples.
struct Exposition {
    text: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) -> &mut Self {
        // HELP text escapes only backslash and newline (the format's rule).
        let help = help.replace('\\', r"\\").replace('\n', r"\n");
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
        self
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) -> &mut Self {
        self.text.push_str(name);
        if !labels.is_empty() {
            let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape_label(v))).collect();
            let _ = write!(self.text, "{{{}}}", pairs.join(","));
        }
        let _ = writeln!(self.text, " {}", number(value));
        self
    }

    /// A family with one unlabelled sample.
    fn single(&mut self, name: &str, kind: &str, help: &str, value: f64) -> &mut Self {
        self.family(name, kind, help).sample(name, &[], value)
    }
}

/// A label value with `\`, `"` and newlines escaped, as the format requires.
pub fn escape_label(value: &str) -> String {
    value.replace('\\', r"\\").replace('"', "\\\"").replace('\n', r"\n")
}

/// A sample value as the format spells it (`NaN`, `+Inf`, `-Inf`; Rust writes `inf`).
fn number(value: f64) -> String {
    match value {
        v if v.is_nan() => "NaN".into(),
        v if v == f64::INFINITY => "+Inf".into(),
        v if v == f64::NEG_INFINITY => "-Inf".into(),
        v => format!("{v}"),
    }
}

/// The state as a word for the `lgd_run_info` label.
fn state_word(status: &RunStatus) -> String {
    serde_json::to_value(status.state).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// The whole exposition of one status snapshot.
pub fn render(status: &RunStatus) -> String {
    let mut out = Exposition { text: String::new() };
    let state = state_word(status);
    out.family("lgd_run_info", "gauge", "The run's identity and life stage (value is always 1).").sample(
        "lgd_run_info",
        &[("run_id", &status.run_id), ("state", &state), ("config_digest", &status.config_digest)],
        1.0,
    );
    out.single("lgd_start_time_seconds", "gauge", "Unix time when this process started the run.", status.started_unix)
        .single("lgd_status_updated_seconds", "gauge", "Unix time of this status snapshot.", status.updated_unix)
        .single(
            "lgd_step_total",
            "counter",
            "Optimiser steps taken, including those before a resume.",
            status.step as f64,
        )
        .single("lgd_planned_steps", "gauge", "Steps in the whole run.", status.total_steps as f64)
        .single("lgd_epoch", "gauge", "Epoch in progress.", status.epoch as f64)
        .single(
            "lgd_images_per_second",
            "gauge",
            "Training images per second of this process.",
            status.images_per_second,
        );
    if let Some(eta) = status.eta_seconds {
        out.single("lgd_eta_seconds", "gauge", "Seconds left at the current speed.", eta);
    }
    if let Some(last) = &status.last {
        out.family(
            "lgd_loss",
            "gauge",
            "Loss at the latest logged step, by part (total: the weighted sum of image and text, ½ each by default).",
        )
        .sample("lgd_loss", &[("part", "total")], last.loss)
        .sample("lgd_loss", &[("part", "image")], last.image_loss)
        .sample("lgd_loss", &[("part", "text")], last.text_loss);
        out.single("lgd_learning_rate", "gauge", "Learning rate at the latest logged step.", last.lr);
    }
    if !status.stages.is_empty() {
        out.family(
            "lgd_stage_busy_ratio",
            "gauge",
            "Fraction of wall time a stage spent working (pools: averaged over threads).",
        );
        for stage in &status.stages {
            out.sample("lgd_stage_busy_ratio", &[("stage", &stage.name)], stage.busy_fraction);
        }
        out.family("lgd_stage_wait_ratio", "gauge", "Fraction of wall time a stage spent waiting for its input.");
        for stage in &status.stages {
            out.sample("lgd_stage_wait_ratio", &[("stage", &stage.name)], stage.wait_fraction);
        }
    }
    if !status.queues.is_empty() {
        out.family("lgd_queue_depth", "gauge", "Items waiting in a pipeline channel.");
        for queue in &status.queues {
            out.sample("lgd_queue_depth", &[("queue", &queue.name)], queue.depth as f64);
        }
        out.family("lgd_queue_capacity", "gauge", "Capacity of a pipeline channel.");
        for queue in &status.queues {
            out.sample("lgd_queue_capacity", &[("queue", &queue.name)], queue.capacity as f64);
        }
    }
    out.single(
        "lgd_bad_samples_total",
        "counter",
        "Training files replaced because they could not be used.",
        status.bad_samples as f64,
    )
    .single(
        "lgd_skipped_steps_total",
        "counter",
        "Steps skipped for a non-finite loss or fp16 overflow.",
        status.skipped_steps as f64,
    );
    let validation = status.validation.as_ref().and_then(|v| v.get("validation"));
    let figure = |key: &str| validation.and_then(|v| v.get(key)).and_then(serde_json::Value::as_f64);
    if let Some(agreement) = figure("agreement") {
        out.single(
            "lgd_validation_agreement_ratio",
            "gauge",
            "Latest validation: student/teacher argmax agreement.",
            agreement,
        );
    }
    if let Some(top1) = figure("student_top1") {
        out.single("lgd_validation_student_top1_ratio", "gauge", "Latest validation: student zero-shot top-1.", top1);
    }
    out.text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::status::{HistoryPoint, QueueStatus, RunState, StageStatus};

    fn status() -> RunStatus {
        let mut s = RunStatus::starting("run \"a\"\\b\nc".into(), "x = 1");
        s.state = RunState::Training;
        s.step = 42;
        s.eta_seconds = Some(f64::INFINITY);
        s.push_point(HistoryPoint {
            step: 42,
            loss: 3.5,
            image_loss: 1.5,
            text_loss: 2.0,
            lr: 0.01,
            images_per_second: f64::NAN,
        });
        s.stages = vec![StageStatus { name: "train step".into(), busy_fraction: 0.75, wait_fraction: 0.25 }];
        s.queues = vec![QueueStatus { name: "host batches".into(), depth: 2, capacity: 4 }];
        s.validation =
            Some(serde_json::json!({ "step": 40, "validation": { "agreement": 0.5, "student_top1": null } }));
        s
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(escape_label("a\nb"), r"a\nb");
        assert_eq!([number(f64::NAN), number(f64::NEG_INFINITY), number(0.25)], ["NaN", "-Inf", "0.25"]);
        let text = render(&status());
        assert!(text.contains(r#"lgd_run_info{run_id="run \"a\"\\b\nc",state="training","#), "{text}");
    }

    #[test]
    fn every_sample_follows_its_help_and_type() {
        let text = render(&status());
        let mut typed = std::collections::HashMap::new();
        let mut current = String::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                current = rest.split(' ').next().unwrap().to_owned();
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut parts = rest.split(' ');
                let (name, kind) = (parts.next().unwrap(), parts.next().unwrap());
                assert_eq!(name, current, "TYPE right after HELP");
                assert!(["counter", "gauge"].contains(&kind));
                assert!(typed.insert(name.to_owned(), kind.to_owned()).is_none(), "{name} declared twice");
            } else {
                let name = line.split(['{', ' ']).next().unwrap();
                assert_eq!(name, current, "sample `{line}` outside its family");
                assert!(name.starts_with("lgd_") && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
                let value = line.rsplit(' ').next().unwrap();
                assert!(value.parse::<f64>().is_ok() || ["NaN", "+Inf", "-Inf"].contains(&value), "{line}");
            }
        }
        for counter in ["lgd_step_total", "lgd_bad_samples_total", "lgd_skipped_steps_total"] {
            assert_eq!(typed[counter], "counter");
        }
        assert!(text.contains("lgd_step_total 42\n"));
        assert!(text.contains("lgd_loss{part=\"text\"} 2\n"));
        assert!(text.contains("lgd_eta_seconds +Inf\n"));
        assert!(text.contains("lgd_images_per_second 0\n"), "the board's own figure, not the history point's");
        assert!(text.contains("lgd_stage_wait_ratio{stage=\"train step\"} 0.25\n"));
        assert!(text.contains("lgd_queue_capacity{queue=\"host batches\"} 4\n"));
        assert!(text.contains("lgd_validation_agreement_ratio 0.5\n"));
        assert!(!text.contains("student_top1"), "a null figure is left out");
    }
}

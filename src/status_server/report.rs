//! `lgd status RUN_DIR`: the facts of `GET /status`, read from the run folder's `status.json`, so
//! that finished, stopped and crashed runs can be inspected as well as live ones (no server
//! needed). A status that says the run is live while its process is gone is reported as such.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::daemon::status::{unix_now, RunState, RunStatus, StatusFileError};

/// Why there is no report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// No status file: not a run folder, or a run from before status files.
    #[error("{}: no such file; `lgd train` writes it in the run folder as soon as it starts (is this a run folder?)", .0.display())]
    Missing(PathBuf),
    /// The file is there but is not a status.
    #[error(transparent)]
    Unreadable(#[from] crate::daemon::status::StatusFileError),
}

/// Whether the run's process is still there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// The status says live and the process exists.
    Running,
    /// The status says live but the process is gone (crashed, killed, machine restarted).
    Gone,
    /// The run ended and said so (finished, stopped, failed).
    Ended,
}

/// `lgd status`: the readable block, or with `json` the file exactly as written.
pub fn report(run_dir: &Path, json: bool) -> Result<String, ReportError> {
    let path = RunStatus::file(run_dir);
    if !path.exists() {
        return Err(ReportError::Missing(path));
    }
    let status = RunStatus::read(run_dir)?;
    if json {
        let text =
            std::fs::read_to_string(&path).map_err(|e| StatusFileError { path: path.clone(), source: e.into() })?;
        return Ok(if text.ends_with('\n') { text } else { text + "\n" });
    }
    Ok(render(&status, liveness(&status), unix_now()))
}

/// Live states are checked against the process table.
pub fn liveness(status: &RunStatus) -> Liveness {
    match status.state {
        RunState::Starting | RunState::Training | RunState::Validating if process_alive(status.pid) => {
            Liveness::Running
        }
        RunState::Starting | RunState::Training | RunState::Validating => Liveness::Gone,
        RunState::Finished | RunState::Stopped | RunState::Failed => Liveness::Ended,
    }
}

/// Whether `pid` names a process that has not exited (a zombie has exited).
fn process_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    // `pid (comm) S …`: the state letter follows the last `)` (comm may contain anything).
    let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}

/// `3725` → `1h 02m 05s`.
fn duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "unknown".into();
    }
    let s = seconds.round() as u64;
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, min, sec) => format!("{min}m {sec:02}s"),
        (h, min, sec) => format!("{h}h {min:02}m {sec:02}s"),
    }
}

fn percent(fraction: f64) -> String {
    format!("{:5.1} %", 100.0 * fraction)
}

/// The readable block (`now` in Unix seconds, for the age of the snapshot).
pub fn render(status: &RunStatus, liveness: Liveness, now: f64) -> String {
    let mut out = String::new();
    let mut line = |key: &str, value: &str| {
        let _ = writeln!(out, "{key:<16}{value}");
    };
    let state = serde_json::to_value(status.state).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let process = match liveness {
        Liveness::Running => format!("{state} (pid {}, running)", status.pid),
        Liveness::Gone => format!(
            "{state}, but not running (the process is gone: crashed or killed; pid {} was its process)",
            status.pid
        ),
        Liveness::Ended => format!("{state} (pid {} has exited)", status.pid),
    };
    line("run", &status.run_id);
    line("state", &process);
    if let Some(phase) = status.startup_phase {
        line("start-up", &phase.to_string());
    }
    line("updated", &format!("{} ago", duration(now - status.updated_unix)));
    let progress = if status.total_steps > 0 {
        let share = 100.0 * status.step as f64 / status.total_steps as f64;
        format!("epoch {}, step {} of {} ({share:.1} %)", status.epoch, status.step, status.total_steps)
    } else {
        "no step planned yet: training has not started".into() // starting, or a start that failed
    };
    line("progress", &progress);
    let eta = match (liveness, status.eta_seconds) {
        (Liveness::Running, Some(eta)) => format!(", ETA {}", duration(eta)),
        _ => String::new(),
    };
    line("speed", &format!("{:.1} img/s{eta}", status.images_per_second));
    match &status.last {
        Some(p) => {
            line(
                "loss",
                &format!("{:.4} (image {:.4}, text {:.4}) at step {}", p.loss, p.image_loss, p.text_loss, p.step),
            );
            line("learning rate", &format!("{:.6}", p.lr));
        }
        None => line("loss", "no step logged yet"),
    }
    let width = status.stages.iter().map(|s| s.name.chars().count()).max().unwrap_or(0).max(12); // names in one column
    for (i, stage) in status.stages.iter().enumerate() {
        let text = format!(
            "{:<width$} busy {}  wait {}",
            stage.name,
            percent(stage.busy_fraction),
            percent(stage.wait_fraction)
        );
        line(if i == 0 { "stages" } else { "" }, &text);
    }
    if let Some(bound) = &status.bound_by {
        line("bound by", bound);
    }
    for (i, queue) in status.queues.iter().enumerate() {
        line(if i == 0 { "queues" } else { "" }, &format!("{:<16} {} of {}", queue.name, queue.depth, queue.capacity));
    }
    line("bad samples", &status.bad_samples.to_string());
    line("skipped steps", &status.skipped_steps.to_string());
    line("last checkpoint", &status.last_checkpoint.as_ref().map_or("none yet".into(), |p| p.display().to_string()));
    if let Some(progress) = status.validating {
        line("validating", &format!("{} of {} images", progress.images, progress.of));
    }
    line("validation", &validation(status.validation.as_ref()));
    line("config digest", &status.config_digest);
    if let Some(message) = &status.message {
        line("message", message);
    }
    out
}

/// `{"step": 10, "validation": {"agreement": 0.4, …}}` → `step 10: agreement 40.0 %, …`.
fn validation(value: Option<&serde_json::Value>) -> String {
    let Some(value) = value else { return "none yet".into() };
    let figures = value.get("validation");
    let figure = |key: &str| figures.and_then(|v| v.get(key)).and_then(serde_json::Value::as_f64);
    let mut parts = Vec::new();
    for (key, name) in
        [("agreement", "agreement"), ("student_top1", "student top-1"), ("teacher_top1", "teacher top-1")]
    {
        if let Some(f) = figure(key) {
            parts.push(format!("{name} {:.1} %", 100.0 * f));
        }
    }
    if let Some(images) = figures.and_then(|v| v.get("images")).and_then(serde_json::Value::as_u64) {
        parts.push(format!("{images} images"));
    }
    let step = value.get("step").and_then(serde_json::Value::as_u64).map_or(String::new(), |s| format!("step {s}: "));
    format!("{step}{}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::status::{HistoryPoint, StageStatus};

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(5.4), "5s");
        assert_eq!(duration(65.0), "1m 05s");
        assert_eq!(duration(3725.0), "1h 02m 05s");
        assert_eq!(duration(f64::INFINITY), "unknown");
    }

    #[test]
    fn this_process_is_alive_and_a_reaped_child_is_not() {
        assert!(process_alive(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!process_alive(pid));
    }

    #[test]
    fn the_block_names_every_fact() {
        let mut s = RunStatus::starting("r18".into(), "a = 1");
        (s.state, s.step, s.total_steps, s.epoch, s.images_per_second, s.eta_seconds) =
            (RunState::Training, 50, 200, 1, 12.5, Some(90.0));
        s.push_point(HistoryPoint {
            step: 50,
            loss: 3.25,
            image_loss: 1.25,
            text_loss: 2.0,
            lr: 0.05,
            images_per_second: 12.5,
        });
        s.stages = vec![
            StageStatus { name: "decode".into(), busy_fraction: 0.5, wait_fraction: 0.5 },
            StageStatus { name: "bank maintenance".into(), busy_fraction: 0.01, wait_fraction: 0.99 },
        ];
        s.validation = Some(
            serde_json::json!({ "step": 40, "validation": { "agreement": 0.25, "student_top1": null, "images": 8 } }),
        );
        s.message = Some("config reloaded".into());
        s.validating = Some(crate::daemon::status::ValidationProgress { images: 2048, of: 50000 });
        let text = render(&s, Liveness::Running, s.updated_unix + 3.0);
        for expected in [
            "run             r18\n",
            "(pid",
            "step 50 of 200 (25.0 %)",
            "12.5 img/s, ETA 1m 30s",
            "3.2500 (image 1.2500, text 2.0000) at step 50",
            "decode           busy  50.0 %  wait  50.0 %",
            "bank maintenance busy   1.0 %  wait  99.0 %",
            "step 40: agreement 25.0 %, 8 images",
            "last checkpoint none yet",
            "message         config reloaded",
            "updated         3s ago",
            "validating      2048 of 50000 images\n",
        ] {
            assert!(text.contains(expected), "`{expected}` missing from:\n{text}");
        }
        let gone = render(&s, Liveness::Gone, s.updated_unix);
        assert!(gone.contains("not running (the process is gone: crashed or killed"), "{gone}");
        assert!(!gone.contains("ETA"), "no ETA for a dead run");
        let failed = render(&RunStatus::starting("r18".into(), "a = 1"), Liveness::Ended, s.updated_unix);
        assert!(failed.contains("progress        no step planned yet") && !failed.contains("of 0"), "{failed}");
    }
}

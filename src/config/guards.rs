//! `[guards]` and `[status]`: what the daemon does when things go wrong, how
//! it is watched over HTTP, and the switches the fault-injection tests use to make things go wrong.

use serde::{Deserialize, Serialize};

use super::problems::Problems;

/// What to do when a checkpoint cannot be written (full disk, permissions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointFailurePolicy {
    /// Log it, keep the previous checkpoint, go on training (the next save tries again).
    Continue,
    /// Stop the run with an error; the previous checkpoint is what resumes.
    Stop,
}

/// `[guards]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardsSection {
    /// Stop after this many non-finite losses in a row (each one skips its step); 0 = never stop.
    /// Judged when the step verdicts are read back, at each log interval.
    pub max_consecutive_nonfinite: u32,
    /// Seconds without a batch from the data pipeline, or without the end of a student step (in
    /// data-parallel training: beyond `distributed.timeout_s`, which bounds the step's
    /// collectives), before the watchdog stops the run.
    pub stall_timeout_s: f64,
    /// After a failed checkpoint write.
    pub on_checkpoint_failure: CheckpointFailurePolicy,
}

impl Default for GuardsSection {
    fn default() -> Self {
        Self {
            max_consecutive_nonfinite: 20,
            stall_timeout_s: 600.0,
            on_checkpoint_failure: CheckpointFailurePolicy::Continue,
        }
    }
}

/// `[status]`: the opt-in HTTP status server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatusSection {
    /// `IP:PORT` to serve on (port 0 picks a free one; the address is written to the run folder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// Serving on a non-loopback address must be asked for explicitly.
    pub allow_remote: bool,
}

impl GuardsSection {
    pub(super) fn validate(&self, problems: &mut Problems) {
        problems.require(
            self.stall_timeout_s.is_finite() && self.stall_timeout_s > 0.0,
            "guards.stall_timeout_s",
            "must be a positive number of seconds",
        );
    }
}

impl StatusSection {
    /// The address to serve on, when the server is enabled.
    pub fn socket_addr(&self) -> Option<std::net::SocketAddr> {
        self.addr.as_ref().and_then(|a| a.parse().ok())
    }

    pub(super) fn validate(&self, problems: &mut Problems) {
        let Some(text) = &self.addr else { return };
        match text.parse::<std::net::SocketAddr>() {
            Err(_) => problems.require(false, "status.addr", format!("`{text}` is not IP:PORT (e.g. 127.0.0.1:8080)")),
            Ok(addr) => problems.require(
                addr.ip().is_loopback() || self.allow_remote,
                "status.addr",
                format!("{addr} is reachable from other machines; set status.allow_remote = true to mean it"),
            ),
        }
    }
}

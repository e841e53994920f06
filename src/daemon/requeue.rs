//! `run.requeue`: what a stop on the time-limit warning does once the run is saved. Under Slurm
//! (`SLURM_JOB_ID` set) rank 0 calls `scontrol requeue JOB`: the job goes back to the queue under
//! its id and, started again, resumes from the checkpoint just written. Slurm does not requeue a
//! job that reaches its time limit by itself (`--requeue` covers node failure and preemption), so
//! the run must ask.
//!
//! The process then exits 0. Slurm acts on `scontrol requeue`, not on the step's status, and a
//! non-zero status would be read as a failure where it is not one: `lgd launch` would stop the
//! other ranks while rank 0 may still be writing, `srun --kill-on-bad-exit` would kill the step,
//! and the job's record would say FAILED for a run that did what it was asked.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Why the job could not be requeued (the run itself stopped cleanly and is saved).
#[derive(Debug, thiserror::Error)]
pub enum RequeueError {
    /// No `scontrol` on PATH.
    #[error(
        "run.requeue: `scontrol` was not found on PATH, so Slurm job {job_id} was not requeued; the run stopped and {saved}: requeue it by hand (`scontrol requeue {job_id}`) or submit it again to resume"
    )]
    NoScontrol {
        /// `SLURM_JOB_ID`.
        job_id: String,
        /// What the run left to resume from.
        saved: String,
    },
    /// `scontrol` could not be started for another reason.
    #[error("run.requeue: starting `scontrol requeue {job_id}`: {source}; the run stopped and {saved}")]
    Spawn {
        /// `SLURM_JOB_ID`.
        job_id: String,
        /// What the run left to resume from.
        saved: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// `scontrol requeue` ran and refused (a job submitted with `--no-requeue`, say).
    #[error(
        "run.requeue: `scontrol requeue {job_id}` failed ({status}): {said}; the run stopped and {saved}: submit it again to resume"
    )]
    Refused {
        /// `SLURM_JOB_ID`.
        job_id: String,
        /// What the run left to resume from.
        saved: String,
        /// scontrol's exit status.
        status: std::process::ExitStatus,
        /// Its standard error, trimmed.
        said: String,
    },
}

/// What the stop for a requeue did, for the run's last log line and status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requeued {
    /// `scontrol requeue JOB` succeeded.
    Requeued {
        /// `SLURM_JOB_ID`.
        job_id: String,
    },
    /// Not under Slurm: the run is saved, and whoever restarts it resumes it.
    NotASlurmJob,
    /// Another rank than 0: rank 0 asks for the requeue.
    LeftToRankZero,
}

impl std::fmt::Display for Requeued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Requeued { job_id } => write!(f, "Slurm job {job_id} requeued (scontrol requeue {job_id})"),
            Self::NotASlurmJob => write!(f, "SLURM_JOB_ID is not set: nothing requeued; start the run again to resume"),
            Self::LeftToRankZero => write!(f, "rank 0 requeues the job"),
        }
    }
}

/// Requeues the job when this process leads and Slurm started it; `saved` is the checkpoint the
/// run resumes from (the final one just written, or the newest before it).
pub(super) fn requeue(leads: bool, saved: Option<&Path>) -> Result<Requeued, RequeueError> {
    requeue_job(leads, std::env::var("SLURM_JOB_ID").ok(), saved)
}

fn requeue_job(leads: bool, job_id: Option<String>, saved: Option<&Path>) -> Result<Requeued, RequeueError> {
    if !leads {
        return Ok(Requeued::LeftToRankZero);
    }
    let Some(job_id) = job_id.filter(|id| !id.trim().is_empty()) else { return Ok(Requeued::NotASlurmJob) };
    let saved = saved.map(PathBuf::from).map_or_else(
        || "no checkpoint was written yet (it starts from the beginning)".to_owned(),
        |path| format!("saved {}", path.display()),
    );
    tracing::info!(job_id = %job_id, "requeueing the Slurm job: scontrol requeue {job_id}");
    let output = match Command::new("scontrol").args(["requeue", &job_id]).output() {
        Ok(output) => output,
        Err(source) if source.kind() == std::io::ErrorKind::NotFound => {
            return Err(RequeueError::NoScontrol { job_id, saved })
        }
        Err(source) => return Err(RequeueError::Spawn { job_id, saved, source }),
    };
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr).trim().replace('\n', "; ");
        return Err(RequeueError::Refused { job_id, saved, status: output.status, said });
    }
    Ok(Requeued::Requeued { job_id })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rank_0_of_a_slurm_job_requeues() {
        let job = Some("77".to_owned());
        assert_eq!(requeue_job(false, job, None).unwrap(), Requeued::LeftToRankZero);
        assert_eq!(requeue_job(true, None, None).unwrap(), Requeued::NotASlurmJob);
        assert_eq!(requeue_job(true, Some(" ".into()), None).unwrap(), Requeued::NotASlurmJob);
    }
}

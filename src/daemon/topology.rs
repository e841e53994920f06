//! Every mailbox and channel of the daemon's stages, with its capacity: from `[pipeline]` where a
//! user may size it, otherwise fixed by the protocol between the loop and the stage (said here).
//! A stage receives only its ends (`StageWiring`): the stages' files make none, and do not import
//! this one (their callers hand the ends in). The data pipeline's own channels are made in
//! `lgd_actors::data_pipeline`, bank maintenance's where the trainer starts it (`train/bank_stage.rs`).
//!
//! ```text
//! data pipeline ─HostBatch─▶ device stage ──(x, t)──▶ loop ──job──▶ student optimisation
//!                  mailbox:      outputs:                mailbox: 1, replies: 1
//!           pipeline.device_batches  pipeline.teacher_outputs
//! loop ──host copy──▶ checkpoint writer ──outcome──▶ loop   mailbox: pipeline.checkpoint_requests
//! loop ──record──▶ metrics writer ──failure──▶ loop          mailbox: 1024 records
//! ```

use crossbeam_channel::{bounded, unbounded};
use lgd_actors::pipeline_config::PipelineConfig;
use lgd_actors::stage_actor::StageWiring;

use super::checkpoint_writer::CheckpointWriter;
use super::device_work::TeacherWork;
use super::metrics::MetricsWriter;
use super::student_stage::StudentWork;

/// Records that may wait for the metrics writer before the loop blocks on the next one: far more
/// than a run logs between two disk writes, so only a stalled disk makes the loop wait.
const QUEUED_RECORDS: usize = 1024;

/// The device stage: `pipeline.device_batches` host batches wait for it, `pipeline.teacher_outputs`
/// prepared batches wait for the student (the teacher runs that far ahead).
pub(super) fn device_stage(sizing: &PipelineConfig) -> StageWiring<TeacherWork> {
    StageWiring::new(sizing.device_batches, bounded(sizing.teacher_outputs))
}

/// Student optimisation: one job at a time, by protocol — the loop waits for each step's reply
/// before it acts on a signal or sends the next.
pub(super) fn student_stage() -> StageWiring<StudentWork> {
    StageWiring::new(1, bounded(1))
}

/// The checkpoint writer: `pipeline.checkpoint_requests` host copies may wait (their memory is
/// the bound). Outcomes: one per request, drained by the loop once per step; unbounded so that a
/// writer never blocks on telling the loop it finished while the loop blocks on its mailbox.
pub(super) fn checkpoint_writer(requests: usize) -> StageWiring<CheckpointWriter> {
    StageWiring::new(requests.max(1), unbounded())
}

/// The metrics writer: [`QUEUED_RECORDS`] records may wait. Failures: at most one per record,
/// drained at every record, so bounded by the mailbox; unbounded for the same reason as above.
pub(super) fn metrics_writer() -> StageWiring<MetricsWriter> {
    StageWiring::new(QUEUED_RECORDS, unbounded())
}

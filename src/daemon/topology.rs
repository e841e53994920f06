//! Every mailbox and channel of the daemon's actors, with its capacity: from `[pipeline]` where a
//! user may size it, otherwise fixed by the protocol between the loop and the actor (said here).
//! An actor receives only its ends: the actors' files make none, and do not import this one
//! (their callers hand the ends in). The data pipeline's own channels are made in
//! `lgd_actors::data_pipeline`. Every actor runs on a thread of its own, on the process's one
//! runtime (`lgd_actors::actor_runtime`).
//!
//! ```text
//! data pipeline ─HostBatch─▶ device stage ──(x, t)──▶ loop ──Step (ask)──▶ student optimisation
//!                  mailbox:      outputs:                mailbox: 1            │ Targets (ask), Update,
//!           pipeline.device_batches  pipeline.teacher_outputs                   ▼ Snapshot, … mailbox: 4
//!                                                                        bank maintenance
//! loop ──host copy──▶ checkpoint writer ──outcome──▶ loop   mailbox: pipeline.checkpoint_requests
//! loop ──record──▶ metrics writer ──failure──▶ loop          mailbox: 1024 records
//! ```

use crossbeam_channel::{bounded, unbounded};
use lgd_actors::pipeline_config::PipelineConfig;
use lgd_actors::stage_actor::StageWiring;
use lgd_actors::{bank_maintenance, checkpoint_writer, metrics_writer, student_optimisation, teacher_inference};

use super::checkpoint_writer::CheckpointWriter;
use super::device_work::TeacherWork;
use super::metrics::MetricsWriter;
use super::student_stage::StudentWork;
use crate::train::bank_stage::TensorBanks;

/// Records that may wait for the metrics writer before the loop blocks on the next one: far more
/// than a run logs between two disk writes, so only a stalled disk makes the loop wait.
const QUEUED_RECORDS: usize = 1024;

/// The device stage: `pipeline.device_batches` host batches wait for it, `pipeline.teacher_outputs`
/// prepared batches wait for the student (the teacher runs that far ahead).
pub(super) fn device_stage(sizing: &PipelineConfig) -> teacher_inference::Wiring<TeacherWork> {
    StageWiring::new(sizing.device_batches, bounded(sizing.teacher_outputs))
}

/// Student optimisation: one message at a time, by protocol — the loop waits for each step's
/// answer before it acts on a signal or sends the next.
pub(super) fn student_optimisation() -> student_optimisation::Mailbox<StudentWork> {
    student_optimisation::mailbox()
}

/// Bank maintenance: four jobs, by protocol — a step sends at most three (targets, update, and a
/// snapshot or reload between steps). Its address goes to the trainer, which talks to it.
pub(super) fn bank_maintenance() -> bank_maintenance::Mailbox<TensorBanks> {
    bank_maintenance::mailbox()
}

/// The checkpoint writer: `pipeline.checkpoint_requests` host copies may wait (their memory is
/// the bound). Outcomes: one per request, drained by the loop once per step; unbounded so that a
/// writer never blocks on telling the loop it finished while the loop blocks on its mailbox.
pub(super) fn checkpoint_writer(requests: usize) -> checkpoint_writer::Wiring<CheckpointWriter> {
    StageWiring::new(requests.max(1), unbounded())
}

/// The metrics writer: [`QUEUED_RECORDS`] records may wait. Failures: at most one per record,
/// drained at every record, so bounded by the mailbox; unbounded for the same reason as above.
pub(super) fn metrics_writer() -> metrics_writer::Wiring<MetricsWriter> {
    StageWiring::new(QUEUED_RECORDS, unbounded())
}

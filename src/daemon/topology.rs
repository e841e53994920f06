//! Every actor of the daemon, started here with its mailbox and channels, each capacity from
//! `[pipeline]` where a user may size it, otherwise fixed by the protocol between the loop and
//! the actor (said here). The files that use an actor take it started (or, for the trainer and
//! the student, the function here that starts it) and do not import this one. The data pipeline's own channels are made in
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

use crossbeam_channel::{bounded, unbounded, Receiver};
use lgd_actors::actor_runtime;
use lgd_actors::bank_maintenance::{self, BankMaintenanceRef};
use lgd_actors::checkpoint_writer::{self, CheckpointWriterRef};
use lgd_actors::metrics_writer::{self, MetricsWriterRef};
use lgd_actors::pipeline_config::PipelineConfig;
use lgd_actors::stage_actor::{StageOutput, StageWiring};
use lgd_actors::student_optimisation::{self, StudentOptimisationRef};
use lgd_actors::teacher_inference::{self, TeacherInferenceRef};

use super::checkpoint_writer::CheckpointWriter;
use super::device_work::TeacherWork;
use super::metrics::MetricsWriter;
use super::student_stage::StudentWork;
use crate::train::bank_stage::{BankStage, TensorBanks};

/// An actor that hands on outputs, and where they are read.
pub(super) type Started<R, W> = (R, Receiver<StageOutput<W>>);

/// Records that may wait for the metrics writer before the loop blocks on the next one: far more
/// than a run logs between two disk writes, so only a stalled disk makes the loop wait.
const QUEUED_RECORDS: usize = 1024;

/// Teacher inference (the device stage): `pipeline.device_batches` host batches wait for it,
/// `pipeline.teacher_outputs` prepared batches wait for the student (the teacher runs that far
/// ahead). A `[pipeline]` reload starts a new one here.
pub(super) fn teacher_inference(
    work: TeacherWork,
    sizing: &PipelineConfig,
) -> std::io::Result<Started<TeacherInferenceRef<TeacherWork>, teacher_inference::Inference<TeacherWork>>> {
    let StageWiring { mailbox, outputs, replies } =
        StageWiring::new(sizing.device_batches, bounded(sizing.teacher_outputs));
    Ok((teacher_inference::start(work, mailbox, outputs)?, replies))
}

/// Student optimisation: one message at a time, by protocol — the loop waits for each step's
/// answer before it acts on a signal or sends the next. Linked with bank maintenance, its sibling:
/// if either dies, kameo stops the other.
pub(super) fn student_optimisation(work: StudentWork) -> std::io::Result<StudentOptimisationRef<StudentWork>> {
    let bank = work.bank_maintenance().actor().clone();
    let student = StudentOptimisationRef::start(work, student_optimisation::mailbox())?;
    actor_runtime::link(student.actor(), &bank)?;
    Ok(student)
}

/// Bank maintenance: four jobs, by protocol — a step sends at most three (targets, update, and a
/// snapshot or reload between steps). The trainer decides what the banks hold and keeps the
/// actor's address; the actor is a sibling of student optimisation, not inside it.
pub(super) fn bank_maintenance(banks: TensorBanks) -> std::io::Result<BankStage> {
    BankMaintenanceRef::start(banks, bank_maintenance::mailbox())
}

/// The checkpoint writer: `pipeline.checkpoint_requests` host copies may wait (their memory is
/// the bound). Outcomes: one per request, drained by the loop once per step; unbounded so that a
/// writer never blocks on telling the loop it finished while the loop blocks on its mailbox.
pub(super) fn checkpoint_writer(
    requests: usize,
) -> std::io::Result<Started<CheckpointWriterRef<CheckpointWriter>, checkpoint_writer::Writing<CheckpointWriter>>> {
    let StageWiring { mailbox, outputs, replies } = StageWiring::new(requests.max(1), unbounded());
    Ok((checkpoint_writer::start(CheckpointWriter, mailbox, outputs)?, replies))
}

/// The metrics writer: [`QUEUED_RECORDS`] records may wait. Failures: at most one per record,
/// drained at every record, so bounded by the mailbox; unbounded for the same reason as above.
pub(super) fn metrics_writer(
    writer: MetricsWriter,
) -> std::io::Result<Started<MetricsWriterRef<MetricsWriter>, metrics_writer::Writing<MetricsWriter>>> {
    let StageWiring { mailbox, outputs, replies } = StageWiring::new(QUEUED_RECORDS, unbounded());
    Ok((metrics_writer::start(writer, mailbox, outputs)?, replies))
}

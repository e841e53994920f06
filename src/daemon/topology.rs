//! Every actor of a run, started here with its mailbox and channels, each capacity from
//! `[pipeline]` where a user may size it, otherwise fixed by the protocol between the loop and
//! the actor (said here). The files that use an actor take it started (or, for the trainer and
//! the student, the function here that starts it) and do not import this one, except the
//! library's users outside the daemon (the augmented probe, `lgd bench step`, tests), which start
//! the data pipeline or bank maintenance through it too. Every kameo actor runs on a thread of its
//! own, on the process's one runtime (`lgd_actors::actor_runtime`).
//!
//! ```text
//! sampler ─Job─▶ decode workers ─Produced─▶ batch assembly ─HostBatch─▶ device stage ─(x, t)─▶ loop
//!   ▲  decoded_samples           decoded_samples      │     host_batches   mailbox: device_batches
//!   └──── a credit per batch: credit_window(decoded_samples, batch)         outputs: teacher_outputs
//!
//! loop ─Step (ask)─▶ student optimisation ─Targets (ask), Update, Snapshot, …─▶ bank maintenance
//!                    mailbox: STUDENT_MESSAGES                                  mailbox: BANK_JOBS
//! loop ─host copy─▶ checkpoint writer ─outcome─▶ loop   mailbox: checkpoint_requests
//! loop ─record─▶ metrics writer ─failure─▶ loop          mailbox: QUEUED_RECORDS
//! ```
//! (Lower-case capacities are `[pipeline]`'s fields.)

use crossbeam_channel::{bounded, unbounded, Receiver};
use kameo::mailbox::bounded as mailbox;
use lgd_actors::actor_runtime;
use lgd_actors::bank_maintenance::BankMaintenanceRef;
use lgd_actors::checkpoint_writer::{self, CheckpointWriterRef};
use lgd_actors::data_pipeline::{self, DataChannels, DataPipeline, DataPlan};
use lgd_actors::decode_worker::WorkerContext;
use lgd_actors::metrics_writer::{self, MetricsWriterRef};
use lgd_actors::pipeline_config::PipelineConfig;
use lgd_actors::stage_actor::StageOutput;
use lgd_actors::student_optimisation::StudentOptimisationRef;
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

/// Student optimisation's mailbox, fixed by protocol: the loop waits for each answer before it
/// sends the next message, because what it does next (a checkpoint, a stop, a reload) must see
/// the step's end.
const STUDENT_MESSAGES: usize = 1;

/// Bank maintenance's mailbox, fixed by protocol: a step sends at most three jobs (targets,
/// update, and a snapshot or reload between steps), so a sender never waits on a healthy actor.
const BANK_JOBS: usize = 4;

/// The data pipeline at `plan`'s start: the sampler, `pipeline.decode_workers` decode workers and
/// batch assembly, on channels sized by `[pipeline]`; the stop and exit channels carry nothing
/// and only close (capacity 0). A `[pipeline]` reload starts a new one here.
pub fn data_pipeline(context: WorkerContext, plan: DataPlan, sizing: &PipelineConfig) -> DataPipeline {
    let channels = DataChannels {
        jobs: bounded(sizing.decoded_samples),
        decoded: bounded(sizing.decoded_samples),
        batches: bounded(sizing.host_batches),
        credits: bounded(data_pipeline::credit_window(sizing.decoded_samples, plan.batch)),
        stop: bounded(0),
        exited: bounded(0),
    };
    DataPipeline::start(context, plan, sizing.resolved_decode_workers(), channels)
}

/// Teacher inference (the device stage): `pipeline.device_batches` host batches wait for it,
/// `pipeline.teacher_outputs` prepared batches wait for the student (the teacher runs that far
/// ahead). A `[pipeline]` reload starts a new one here.
pub(super) fn teacher_inference(
    work: TeacherWork,
    sizing: &PipelineConfig,
) -> std::io::Result<Started<TeacherInferenceRef<TeacherWork>, teacher_inference::Inference<TeacherWork>>> {
    let (outputs, replies) = bounded(sizing.teacher_outputs);
    Ok((teacher_inference::start(work, mailbox(sizing.device_batches), outputs)?, replies))
}

/// Student optimisation ([`STUDENT_MESSAGES`]), linked with bank maintenance, its sibling: if
/// either dies, kameo stops the other.
pub(super) fn student_optimisation(work: StudentWork) -> std::io::Result<StudentOptimisationRef<StudentWork>> {
    let bank = work.bank_maintenance().actor().clone();
    let student = StudentOptimisationRef::start(work, mailbox(STUDENT_MESSAGES))?;
    actor_runtime::link(student.actor(), &bank)?;
    Ok(student)
}

/// Bank maintenance ([`BANK_JOBS`]). The trainer decides what the banks hold and keeps the
/// actor's address; the actor is a sibling of student optimisation, not inside it.
pub fn bank_maintenance(banks: TensorBanks) -> std::io::Result<BankStage> {
    BankMaintenanceRef::start(banks, mailbox(BANK_JOBS))
}

/// The checkpoint writer: `pipeline.checkpoint_requests` host copies may wait (their memory is
/// the bound). Outcomes: one per request, drained by the loop once per step; unbounded so that a
/// writer never blocks on telling the loop it finished while the loop blocks on its mailbox.
pub(super) fn checkpoint_writer(
    requests: usize,
) -> std::io::Result<Started<CheckpointWriterRef<CheckpointWriter>, checkpoint_writer::Writing<CheckpointWriter>>> {
    let (outputs, replies) = unbounded();
    Ok((checkpoint_writer::start(CheckpointWriter, mailbox(requests.max(1)), outputs)?, replies))
}

/// The metrics writer: [`QUEUED_RECORDS`] records may wait. Failures: at most one per record,
/// drained at every record, so bounded by the mailbox; unbounded for the same reason as above.
pub(super) fn metrics_writer(
    writer: MetricsWriter,
) -> std::io::Result<Started<MetricsWriterRef<MetricsWriter>, metrics_writer::Writing<MetricsWriter>>> {
    let (outputs, replies) = unbounded();
    Ok((metrics_writer::start(writer, mailbox(QUEUED_RECORDS), outputs)?, replies))
}

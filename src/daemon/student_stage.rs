//! Student optimisation in a training run: the actor (`lgd_actors::student_optimisation`) owns
//! the trainer, and this is the loop's side of it — each step asked with a deadline, anything
//! else of the trainer asked between two steps, and the position as of the last step.
//!
//! A step that does not end within `guards.stall_timeout_s` ends the run like a failed one: the
//! actor's thread is stuck in it, and so is the trainer, so the run keeps its last checkpoint.

use std::cell::OnceCell;
use std::time::Duration;

use lgd_actors::student_optimisation::{self, StepAnswer, Student, StudentOptimisationRef};
use tch::Tensor;

use super::{AnyTeacher, DaemonError};
use crate::config::{Config, FaultInjectionSection};
use crate::torch_ext::{keep_for_current_stream, ReadyEvent};
use crate::train::{Position, StepReport, Trainer, TrainerError};

/// A batch ready for the student: normalised views and the teacher's keys, made on the device
/// stage's own stream when `ready` is given.
pub(super) struct PreparedStep {
    pub images: Tensor,
    pub keys: Tensor,
    pub ready: Option<ReadyEvent>,
}

/// What the actor steps: the trainer, and the failures injected on purpose in tests.
pub(super) struct StudentWork {
    trainer: Trainer<AnyTeacher>,
    faults: FaultInjectionSection,
}

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum StepError {
    /// Waiting for the device stage's stream, or keeping the batch for this one, failed.
    #[error("taking the device stage's batch: {0}")]
    Stream(#[source] crate::torch_ext::TorchExtError),
    /// The step failed after it started: its batch-norm statistics or banks may hold part of it.
    #[error("step {step} failed part-way (its batch-norm statistics or banks may hold part of it): {source}")]
    PartWay {
        step: u64,
        #[source]
        source: PartWayFailure,
    },
}

/// What failed inside a step.
#[derive(Debug, thiserror::Error)]
pub(super) enum PartWayFailure {
    /// The trainer's step.
    #[error(transparent)]
    Trainer(#[from] TrainerError),
    /// A failure injected on purpose (`fault_injection`).
    #[error(transparent)]
    Injected(#[from] crate::fault_injection::InjectedFailure),
}

impl StudentWork {
    /// The trainer's bank maintenance (the topology links it to student optimisation).
    pub(super) fn bank_maintenance(&self) -> &crate::train::bank_stage::BankStage {
        self.trainer.bank_maintenance()
    }
}

impl Student for StudentWork {
    type Batch = PreparedStep;
    type Report = (StepReport, Position);
    type Error = StepError;

    fn step(&mut self, PreparedStep { images, keys, ready }: PreparedStep) -> Result<Self::Report, StepError> {
        let trainer = &mut self.trainer;
        self.faults.before_student_step(trainer.step + 1);
        if let Some(ready) = ready {
            // This thread's stream waits for the device stage's (on the device), and the
            // allocator keeps the batch until this stream is done with it.
            ready.wait_on_current_stream().map_err(StepError::Stream)?;
            keep_for_current_stream(&images).map_err(StepError::Stream)?;
            keep_for_current_stream(&keys).map_err(StepError::Stream)?;
        }
        let step = trainer.step + 1;
        let part_way = |source: PartWayFailure| StepError::PartWay { step, source };
        let report = trainer.step_with_keys(&images, Some(&keys)).map_err(|e| part_way(e.into()))?;
        self.faults.after_student_step(step).map_err(|e| part_way(e.into()))?;
        Ok((report, trainer.position()))
    }
}

/// The running student actor, and the trainer's position as of the last step.
pub(super) struct StudentStage {
    actor: Option<StudentOptimisationRef<StudentWork>>,
    position: Position,
    replica: bool,
    /// What a step may wait in its collectives beyond its own work: a replica waits out rank 0's
    /// validation there, bounded by the group's own timeout (`distributed.timeout_s`).
    collective_wait: Duration,
    /// The step that overran the stall timeout: the actor's thread is stuck in it.
    stuck_in: OnceCell<u64>,
}

impl StudentStage {
    /// Starts the actor around `trainer` with `start` (the topology's).
    pub(super) fn start(
        trainer: Trainer<AnyTeacher>,
        config: &Config,
        start: impl FnOnce(StudentWork) -> std::io::Result<StudentOptimisationRef<StudentWork>>,
    ) -> Result<Self, DaemonError> {
        let (position, replica) = (trainer.position(), trainer.data_parallel().is_some());
        let collective_wait = if replica { config.distributed.timeout() } else { Duration::ZERO };
        let work = StudentWork { trainer, faults: config.fault_injection.clone() };
        let actor =
            start(work).map_err(|source| DaemonError::Thread { actor: student_optimisation::NAME.0, source })?;
        Ok(Self { actor: Some(actor), position, replica, collective_wait, stuck_in: OnceCell::new() })
    }

    fn actor(&self) -> Result<&StudentOptimisationRef<StudentWork>, DaemonError> {
        match self.stuck_in.get() {
            Some(&step) => Err(DaemonError::Stuck { actor: student_optimisation::NAME.0, step }),
            None => Ok(self.actor.as_ref().expect("the actor runs until dropped")),
        }
    }

    /// One step on a prepared batch; waits for it, at most `stall` (`guards.stall_timeout_s`) and,
    /// in a replica, the group's timeout on top.
    pub(super) fn step(&mut self, batch: PreparedStep, stall: Duration) -> Result<StepReport, DaemonError> {
        let limit = stall + self.collective_wait;
        let answer = self
            .actor()?
            .step(batch, limit)
            .map_err(|source| DaemonError::Thread { actor: student_optimisation::NAME.0, source })?;
        match answer {
            StepAnswer::Answered(reply) => {
                let (report, position) = reply?;
                self.position = position;
                Ok(report)
            }
            StepAnswer::Overran => {
                let step = self.position.next_step();
                let _ = self.stuck_in.set(step);
                let (actor, thread) = student_optimisation::NAME;
                Err(DaemonError::Stalled { actor, thread, step, limit })
            }
        }
    }

    /// Runs `call` on the trainer, on the actor's thread, between two steps.
    pub(super) fn call<R: Send + 'static>(
        &self,
        call: impl FnOnce(&mut Trainer<AnyTeacher>) -> R + Send + 'static,
    ) -> Result<R, DaemonError> {
        Ok(self.actor()?.with_student(move |work| call(&mut work.trainer))?)
    }

    /// Steps taken.
    pub(super) fn step_count(&self) -> u64 {
        self.position.step
    }

    /// The epoch in progress.
    pub(super) fn epoch(&self) -> u64 {
        self.position.epoch
    }

    /// Steps done in that epoch.
    pub(super) fn step_in_epoch(&self) -> u64 {
        self.position.step_in_epoch
    }

    /// Where the trainer stands as of the last step.
    pub(super) fn position(&self) -> Position {
        self.position
    }

    /// Whether the trainer is one replica of several.
    pub(super) fn is_replica(&self) -> bool {
        self.replica
    }
}

impl Drop for StudentStage {
    /// The trainer (and with it bank maintenance's address) is dropped on the actor's thread.
    fn drop(&mut self) {
        if let Some(actor) = self.actor.take() {
            // A stuck thread is left behind at once: the process ends without it.
            let grace = if self.stuck_in.get().is_some() { Duration::ZERO } else { Duration::from_secs(10) };
            if !actor.shutdown_within(grace) {
                tracing::warn!("student optimisation's thread did not stop and was left behind");
            }
        }
    }
}

//! Student optimisation as a kameo stage: the trainer (student, SGD, schedule, scaler, the bank
//! stage's handle, the data-parallel group) lives on a thread of its own, and the loop, the run's
//! coordinator, hands it each prepared batch and reads back what the step did. Whatever else the
//! loop needs of the trainer (checkpoint state, validation, a reload, agreeing on requests with
//! the other replicas) is a call that runs on that thread between two steps: only one thread ever
//! touches the trainer, and a replica issues every collective from it, in the same order as the
//! others. Both channels hold one item: the loop waits for each step, because what it does next
//! (a checkpoint, a stop, a reload) must see the step's end.
//!
//! A panic in a step is caught and ends the run with its message; the trainer is then of unknown
//! consistency (the weights may be half updated), so it refuses further calls and the run keeps
//! its last checkpoint instead of writing one. So does a step that fails with an error (a replica's
//! collective when a peer dies): its forward has already moved the batch-norm statistics, so a
//! checkpoint would hold a state that is no step's. A step that does not end within
//! `guards.stall_timeout_s` ends the run the same way: its thread is stuck, and so is the trainer.

use std::any::Any;
use std::cell::OnceCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};
use lgd_actors::awake_wait::recv_within_running_time;
use lgd_actors::stage_actor::{self, StageHandle, StageOutput, StageWiring, StageWork};
use tch::Tensor;

use super::{AnyTeacher, DaemonError};
use crate::config::{Config, FaultInjectionSection};
use crate::torch_ext::{keep_for_current_stream, ReadyEvent};
use crate::train::{Position, StepReport, Trainer};

/// A call on the trainer, with its result boxed for the trip back.
type Call = Box<dyn FnOnce(&mut Trainer<AnyTeacher>) -> Box<dyn Any + Send> + Send>;

/// What the stage is asked to do.
pub(super) enum StudentJob {
    /// One step on a prepared batch: normalised views and the teacher's keys, made on the device
    /// stage's own stream when `ready` is given.
    Step { images: Tensor, keys: Tensor, ready: Option<ReadyEvent> },
    /// Anything else, between two steps.
    Call(Call),
}

/// The answer to one job.
pub(super) enum StudentReply {
    /// The step's report and the position after it.
    Stepped(StepReport, Position),
    Called(Box<dyn Any + Send>),
}

/// The stage's work: the trainer, unless a step panicked.
pub(super) struct StudentWork {
    trainer: Trainer<AnyTeacher>,
    /// Set by a step that panicked or failed: why the trainer may no longer be used.
    poisoned: Option<String>,
    /// Failures on purpose (none outside the fault-injection tests).
    faults: FaultInjectionSection,
}

impl StageWork for StudentWork {
    type Input = StudentJob;
    type Output = StudentReply;

    fn run(&mut self, job: StudentJob) -> Result<StudentReply, String> {
        if let Some(why) = &self.poisoned {
            return Err(format!("student optimisation is unusable after {why}"));
        }
        let trainer = &mut self.trainer;
        let faults = &self.faults;
        let mut failed_step = None;
        let outcome = catch_unwind(AssertUnwindSafe(|| match job {
            StudentJob::Step { images, keys, ready } => {
                faults.before_student_step(trainer.step + 1);
                if let Some(ready) = ready {
                    // This thread's stream waits for the device stage's (on the device), and the
                    // allocator keeps the batch until this stream is done with it.
                    ready.wait_on_current_stream().map_err(|e| e.to_string())?;
                    keep_for_current_stream(&images).map_err(|e| e.to_string())?;
                    keep_for_current_stream(&keys).map_err(|e| e.to_string())?;
                }
                let step = trainer.step + 1;
                failed_step = Some(step); // until the step has returned
                let report = trainer.step_with_keys(&images, Some(&keys)).map_err(|e| e.to_string())?;
                faults.after_student_step(step)?;
                failed_step = None;
                Ok(StudentReply::Stepped(report, trainer.position()))
            }
            StudentJob::Call(call) => Ok(StudentReply::Called(call(trainer))),
        }));
        match (outcome, failed_step) {
            (Err(panic), _) => {
                let message = stage_actor::panic_message(panic.as_ref());
                self.poisoned = Some(format!("its panic ({message})"));
                Err(format!("student optimisation panicked: {message}"))
            }
            (Ok(Err(error)), Some(step)) => {
                self.poisoned = Some(format!(
                    "step {step} failed part-way (its batch-norm statistics or banks may hold part of it)"
                ));
                Err(error)
            }
            (Ok(result), _) => result,
        }
    }
}

/// The running student stage, and the trainer's position as of the last step.
pub(super) struct StudentStage {
    stage: Option<StageHandle<StudentWork>>,
    replies: Receiver<StageOutput<StudentWork>>,
    position: Position,
    replica: bool,
    /// What a step may wait in its collectives beyond its own work: a replica waits out rank 0's
    /// validation there, bounded by the group's own timeout (`distributed.timeout_s`).
    collective_wait: Duration,
    /// The step that overran the stall timeout: the stage's thread is stuck in it.
    stuck_in: OnceCell<u64>,
}

impl StudentStage {
    /// Starts the stage around `trainer` on the channels the topology made for it.
    pub(super) fn start(
        trainer: Trainer<AnyTeacher>,
        config: &Config,
        wiring: StageWiring<StudentWork>,
    ) -> Result<Self, DaemonError> {
        let (position, replica) = (trainer.position(), trainer.data_parallel().is_some());
        let collective_wait = if replica { config.distributed.timeout() } else { Duration::ZERO };
        let work = StudentWork { trainer, poisoned: None, faults: config.fault_injection.clone() };
        let StageWiring { mailbox, outputs, replies } = wiring;
        let stage = StageHandle::start(("student optimisation", "lgd-student"), work, mailbox, outputs)
            .map_err(|e| DaemonError::Training(format!("starting student optimisation: {e}")))?;
        Ok(Self { stage: Some(stage), replies, position, replica, collective_wait, stuck_in: OnceCell::new() })
    }

    /// Hands `job` to the stage and waits for its answer; a step at most `within`, after which the
    /// stage counts as stuck and takes no more jobs.
    fn ask(&self, job: StudentJob, within: Option<Duration>) -> Result<StudentReply, DaemonError> {
        if let Some(step) = self.stuck_in.get() {
            return Err(DaemonError::Training(format!(
                "student optimisation is stuck in step {step} and takes no more work"
            )));
        }
        let stage = self.stage.as_ref().expect("the stage runs until dropped");
        stage.submit(job).map_err(|e| DaemonError::Training(e.to_string()))?;
        let reply = match within {
            Some(timeout) => recv_within_running_time(&self.replies, timeout),
            None => self.replies.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match reply {
            Ok(reply) => reply.map_err(DaemonError::Training),
            Err(RecvTimeoutError::Timeout) => {
                let step = self.position.next_step();
                let _ = self.stuck_in.set(step);
                Err(DaemonError::Training(format!(
                    "student optimisation stalled: step {step} has not finished after {:.1} s (guards.stall_timeout_s); its thread lgd-student is stuck in it",
                    within.unwrap_or_default().as_secs_f64()
                )))
            }
            Err(RecvTimeoutError::Disconnected) => Err(DaemonError::Training("student optimisation stopped".into())),
        }
    }

    /// One step on a prepared batch; waits for it, at most `stall` (`guards.stall_timeout_s`) and,
    /// in a replica, the group's timeout on top.
    pub(super) fn step(
        &mut self,
        images: Tensor,
        keys: Tensor,
        ready: Option<ReadyEvent>,
        stall: Duration,
    ) -> Result<StepReport, DaemonError> {
        match self.ask(StudentJob::Step { images, keys, ready }, Some(stall + self.collective_wait))? {
            StudentReply::Stepped(report, position) => {
                self.position = position;
                Ok(report)
            }
            StudentReply::Called(_) => unreachable!("a step is answered by its report"),
        }
    }

    /// Runs `call` on the trainer, on the stage's thread, between two steps.
    pub(super) fn call<R: Send + 'static>(
        &self,
        call: impl FnOnce(&mut Trainer<AnyTeacher>) -> R + Send + 'static,
    ) -> Result<R, DaemonError> {
        match self
            .ask(StudentJob::Call(Box::new(move |trainer| Box::new(call(trainer)) as Box<dyn Any + Send>)), None)?
        {
            StudentReply::Called(result) => Ok(*result.downcast::<R>().expect("a call is answered by its own result")),
            StudentReply::Stepped(..) => unreachable!("a call is answered by its result"),
        }
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
    /// The trainer (and the bank stage inside it) is dropped on the stage's thread.
    fn drop(&mut self) {
        if let Some(stage) = self.stage.take() {
            // A stuck thread is left behind at once: the process ends without it.
            let grace = if self.stuck_in.get().is_some() { Duration::ZERO } else { Duration::from_secs(10) };
            if !stage.shutdown_within(grace) {
                tracing::warn!("student optimisation's thread did not stop and was left behind");
            }
        }
    }
}

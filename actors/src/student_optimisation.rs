//! Student optimisation, an actor on a thread of its own: it owns the trainer (student, SGD,
//! schedule, scaler, the address of bank maintenance, the data-parallel group), and the loop, the
//! run's coordinator, asks it for each step ([`Step`]). Whatever else the loop needs of the
//! trainer (its state for a checkpoint, validation, a reload, agreeing on requests with the other
//! replicas) is a [`WithStudent`] asked between two steps: only this thread ever touches the
//! trainer, and a replica issues every collective from it, in the same order as the others. The
//! mailbox holds one message: the loop waits for each answer, because what it does next (a
//! checkpoint, a stop, a reload) must see the step's end.
//!
//! A step that panics or fails leaves the trainer of unknown consistency (the weights may be
//! half updated, the batch-norm statistics have moved): the actor then refuses everything with
//! that failure, and the run keeps its last checkpoint instead of writing one. So does a panic in
//! anything asked of it. The actor is generic over [`Student`], which the daemon implements.

use std::convert::Infallible;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use kameo::actor::{ActorRef, PreparedActor};
use kameo::mailbox::{MailboxReceiver, MailboxSender};
use kameo::message::{Context, Message};
use kameo::Actor;

use crate::actor_error::{guarded, ActorError};
use crate::actor_runtime::{self, ActorThread};
use crate::awake_wait::within_running_time;

/// The actor's name in messages and its thread's name.
pub const NAME: (&str, &str) = ("student optimisation", "lgd-student");

/// What the actor steps.
pub trait Student: Send + 'static {
    /// One prepared batch.
    type Batch: Send + 'static;
    /// What a step did.
    type Report: Send + 'static;
    /// Why a step failed.
    type Error: std::error::Error + Send + Sync + 'static;
    /// One optimisation step.
    fn step(&mut self, batch: Self::Batch) -> Result<Self::Report, Self::Error>;
}

/// One step on a prepared batch (asked).
pub struct Step<B>(pub B);

/// Anything else of the student, run on its thread between two steps (asked); answers `R`.
pub struct WithStudent<F, R>(F, PhantomData<fn() -> R>);

/// The actor: the student, unless a failure made it unusable.
pub struct StudentOptimisation<S: Student> {
    student: S,
    poisoned: Option<ActorError>,
}

impl<S: Student> Actor for StudentOptimisation<S> {
    type Args = Self;
    type Error = Infallible;

    async fn on_start(actor: Self, _: ActorRef<Self>) -> Result<Self, Infallible> {
        Ok(actor)
    }
}

impl<S: Student> StudentOptimisation<S> {
    /// Runs `job` off the runtime's context unless the student is unusable; a panic makes it so,
    /// and so does an error where `poisons` says.
    fn work<R, E: std::error::Error + Send + Sync + 'static>(
        &mut self,
        poisons: bool,
        job: impl FnOnce(&mut S) -> Result<R, E>,
    ) -> Result<R, ActorError> {
        if let Some(poisoned) = &self.poisoned {
            return Err(poisoned.clone());
        }
        let result = actor_runtime::run_blocking(|| guarded(NAME.0, || job(&mut self.student)));
        if let Err(error) = &result {
            if poisons || matches!(error, ActorError::Panicked { .. }) {
                self.poisoned = Some(ActorError::Unusable { actor: NAME.0, after: Arc::new(error.clone()) });
            }
        }
        result
    }
}

impl<S: Student> Message<Step<S::Batch>> for StudentOptimisation<S> {
    type Reply = Result<S::Report, ActorError>;

    async fn handle(&mut self, Step(batch): Step<S::Batch>, _: &mut Context<Self, Self::Reply>) -> Self::Reply {
        // A step that failed part-way has moved some state: nothing may use the student after it.
        self.work(true, |student| student.step(batch))
    }
}

impl<S, F, R> Message<WithStudent<F, R>> for StudentOptimisation<S>
where
    S: Student,
    F: FnOnce(&mut S) -> R + Send + 'static,
    R: Send + 'static,
{
    type Reply = Result<R, ActorError>;

    async fn handle(
        &mut self,
        WithStudent(job, _): WithStudent<F, R>,
        _: &mut Context<Self, Self::Reply>,
    ) -> Self::Reply {
        self.work(false, |student| Ok::<_, Infallible>(job(student)))
    }
}

/// The actor's mailbox (made by the topology).
pub type Mailbox<S> = (MailboxSender<StudentOptimisation<S>>, MailboxReceiver<StudentOptimisation<S>>);

/// What asking for a step gave.
#[derive(Debug)]
pub enum StepAnswer<R> {
    /// The step's report, or why there is none.
    Answered(Result<R, ActorError>),
    /// No answer within the limit: the actor's thread is stuck in the step.
    Overran,
}

/// The running actor: its address and its thread.
pub struct StudentOptimisationRef<S: Student> {
    actor: ActorRef<StudentOptimisation<S>>,
    thread: ActorThread,
}

impl<S: Student> StudentOptimisationRef<S> {
    /// Starts the actor on `student`, reading `mailbox`. Fails only if the OS refuses a thread.
    pub fn start(student: S, mailbox: Mailbox<S>) -> std::io::Result<Self> {
        let prepared = PreparedActor::new(mailbox);
        let actor = prepared.actor_ref().clone();
        let state = StudentOptimisation { student, poisoned: None };
        let thread = actor_runtime::spawn_on_thread(NAME.1, prepared, state)?;
        Ok(Self { actor, thread })
    }

    /// One step on `batch`, waiting at most `limit` of the process's running time for it.
    pub fn step(&self, batch: S::Batch, limit: Duration) -> std::io::Result<StepAnswer<S::Report>> {
        // The send is part of what is timed: the mailbox holds one message and the loop waits for
        // each answer, so it finds room at once. (Not `enqueue`: kameo 0.22's enqueue panics on a
        // stopped actor, unable to hand the message back.)
        actor_runtime::block_on(async {
            match within_running_time(self.actor.ask(Step(batch)).send(), limit).await {
                Some(reply) => StepAnswer::Answered(reply.map_err(|error| ActorError::from_send(error, NAME.0))),
                None => StepAnswer::Overran,
            }
        })
    }

    /// Runs `job` on the student, on its thread, between two steps.
    pub fn with_student<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut S) -> R + Send + 'static,
    ) -> Result<R, ActorError> {
        self.actor
            .ask(WithStudent(job, PhantomData))
            .blocking_send()
            .map_err(|error| ActorError::from_send(error, NAME.0))
    }

    /// The actor's address (for links).
    pub fn actor(&self) -> &ActorRef<StudentOptimisation<S>> {
        &self.actor
    }

    /// Stops the actor after the message in hand and waits at most `grace` for its thread (the
    /// student is dropped there); returns whether it ended.
    pub fn shutdown_within(mut self, grace: Duration) -> bool {
        self.actor.kill();
        self.thread.join_within(grace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bank_maintenance::{BankMaintenanceRef, Banks};

    /// Counts its steps.
    struct Counter(u64);

    impl Student for Counter {
        type Batch = u64;
        type Report = u64;
        type Error = Infallible;
        fn step(&mut self, by: u64) -> Result<u64, Infallible> {
            self.0 += by;
            Ok(self.0)
        }
    }

    /// A bank of one number.
    struct One(u64);

    impl Banks for One {
        type Keys = u64;
        type Applied = bool;
        type Targets = u64;
        type Bank = u64;
        type Settings = ();
        type Error = Infallible;
        fn targets(&mut self, keys: u64) -> u64 {
            keys + self.0
        }
        fn update(&mut self, keys: u64, applied: bool) -> Result<(), Infallible> {
            self.0 += u64::from(applied) * keys;
            Ok(())
        }
        fn snapshot(&self) -> Result<u64, Infallible> {
            Ok(self.0)
        }
        fn configure(&mut self, (): ()) {}
        fn replace(&mut self, bank: u64) {
            self.0 = bank;
        }
    }

    const LIMIT: Duration = Duration::from_secs(30);

    fn answered(answer: std::io::Result<StepAnswer<u64>>) -> Result<u64, ActorError> {
        match answer.unwrap() {
            StepAnswer::Answered(reply) => reply,
            StepAnswer::Overran => panic!("no answer within {LIMIT:?}"),
        }
    }

    #[test]
    fn steps_and_calls_answer_in_order_and_a_panic_leaves_the_student_unusable() {
        let student = StudentOptimisationRef::start(Counter(0), kameo::mailbox::bounded(1)).unwrap();
        assert_eq!(answered(student.step(2, LIMIT)).unwrap(), 2);
        assert_eq!(student.with_student(|counter| counter.0 * 10).unwrap(), 20);
        let panic = student.with_student(|_: &mut Counter| -> u64 { panic!("the call is cursed") }).unwrap_err();
        assert!(panic.to_string().contains("student optimisation panicked: the call is cursed"), "{panic}");
        let refused = answered(student.step(1, LIMIT)).unwrap_err().to_string();
        assert_eq!(refused, "student optimisation is unusable after its panic (the call is cursed)");
        assert!(student.shutdown_within(Duration::from_secs(5)));
    }

    #[test]
    fn linked_siblings_stop_together() {
        let bank = BankMaintenanceRef::start(One(1), kameo::mailbox::bounded(4)).unwrap();
        let student = StudentOptimisationRef::start(Counter(0), kameo::mailbox::bounded(1)).unwrap();
        actor_runtime::link(student.actor(), bank.actor()).unwrap();
        assert_eq!(bank.targets(4).unwrap().wait().unwrap(), 5);
        assert_eq!(answered(student.step(1, LIMIT)).unwrap(), 1);
        // Bank maintenance dies (killed, as a crashed actor would end): kameo stops its sibling.
        bank.actor().kill();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match answered(student.step(1, LIMIT)) {
                Err(ActorError::Stopped { actor }) => {
                    assert_eq!(actor, NAME.0);
                    break;
                }
                Ok(_) => assert!(std::time::Instant::now() < deadline, "the student outlived its linked sibling"),
                Err(other) => panic!("{other}"),
            }
        }
        assert!(bank.snapshot().is_err());
        assert!(student.shutdown_within(Duration::from_secs(5)));
    }
}

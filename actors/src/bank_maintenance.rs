//! Bank maintenance (DESIGN §2), an actor on a thread of its own: it owns the visual bank V and
//! reads the text bank T. For each step it turns the teacher's keys into the objective's targets
//! against the banks as they stand ([`Targets`], asked before the student's forward and awaited
//! after it), and after the step it applies the LGKA update with every replica's keys
//! ([`Update`], told: the loop goes on). Messages are handled in the order sent, so the targets of
//! step k+1 see the update of step k: a run is bit for bit what it was when the step did all of
//! this itself.
//!
//! The banks are tensors, which this crate does not know: the actor is generic over [`Banks`],
//! which the trainer's code implements (`src/train/bank_stage.rs`). An update that fails (or
//! panics) is kept and becomes the answer to every later question: the bank is then unusable.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kameo::actor::{ActorRef, PreparedActor};
use kameo::mailbox::{MailboxReceiver, MailboxSender};
use kameo::message::{Context, Message};
use kameo::request::BlockingPendingReply;
use kameo::Actor;

use crate::actor_error::{guarded, ActorError};
use crate::actor_runtime::{self, ActorThread};

/// The actor's name in messages and its thread's name.
const NAME: (&str, &str) = ("bank maintenance", "lgd-bank");

/// What the actor does, on whatever the banks are made of.
pub trait Banks: Send + 'static {
    /// One step's teacher keys (`[B, D]` for targets, all replicas' `[N, D]` for an update).
    type Keys: Send + 'static;
    /// Whether a step was applied (an update of a step that was not moves nothing).
    type Applied: Send + 'static;
    /// The objective's targets for one step's keys.
    type Targets: Send + 'static;
    /// A copy of V with what belongs to it (seen flags, momentum).
    type Bank: Send + 'static;
    /// The reloadable settings.
    type Settings: Send + 'static;
    /// Why an update or a copy failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The targets of `keys` against the banks as they stand.
    fn targets(&mut self, keys: Self::Keys) -> Self::Targets;
    /// The LGKA update with a finished step's keys, where `applied` holds.
    fn update(&mut self, keys: Self::Keys, applied: Self::Applied) -> Result<(), Self::Error>;
    /// A deep copy of V.
    fn snapshot(&self) -> Result<Self::Bank, Self::Error>;
    /// New reloadable settings.
    fn configure(&mut self, settings: Self::Settings);
    /// A bank from elsewhere (a checkpoint, rank 0's copy) in V's place.
    fn replace(&mut self, bank: Self::Bank);
}

/// The targets of one step's keys (asked).
pub struct Targets<K>(pub K);

/// The LGKA update after a step (told).
pub struct Update<K, A> {
    /// Every replica's keys, in rank order.
    pub keys: K,
    /// Whether the step was applied.
    pub applied: A,
}

/// A deep copy of V after every job sent before it (asked).
pub struct Snapshot;

/// New reloadable settings (told).
pub struct Configure<S>(pub S);

/// A bank in V's place (told).
pub struct Replace<V>(pub V);

/// The actor: the banks, and the failure that made them unusable, if one did.
pub struct BankMaintenance<B: Banks> {
    banks: B,
    failed: Option<ActorError>,
    busy_nanos: Arc<AtomicU64>,
}

impl<B: Banks> Actor for BankMaintenance<B> {
    type Args = Self;
    type Error = Infallible;

    async fn on_start(actor: Self, _: ActorRef<Self>) -> Result<Self, Infallible> {
        Ok(actor)
    }
}

impl<B: Banks> BankMaintenance<B> {
    /// Runs `job` on the banks off the runtime's context, timed, unless they are already unusable;
    /// a failure or a panic makes them so.
    fn work<R>(&mut self, job: impl FnOnce(&mut B) -> Result<R, B::Error>) -> Result<R, ActorError> {
        if let Some(failed) = &self.failed {
            return Err(failed.clone());
        }
        let start = Instant::now();
        let result = actor_runtime::run_blocking(|| guarded(NAME.0, || job(&mut self.banks)));
        self.busy_nanos.fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
        if let Err(error) = &result {
            self.failed = Some(error.clone());
        }
        result
    }
}

impl<B: Banks> Message<Targets<B::Keys>> for BankMaintenance<B> {
    type Reply = Result<B::Targets, ActorError>;

    async fn handle(&mut self, Targets(keys): Targets<B::Keys>, _: &mut Context<Self, Self::Reply>) -> Self::Reply {
        self.work(|banks| Ok(banks.targets(keys)))
    }
}

impl<B: Banks> Message<Update<B::Keys, B::Applied>> for BankMaintenance<B> {
    type Reply = ();

    async fn handle(&mut self, update: Update<B::Keys, B::Applied>, _: &mut Context<Self, ()>) {
        // A failure is kept: the next question is answered with it.
        let _ = self.work(|banks| banks.update(update.keys, update.applied));
    }
}

impl<B: Banks> Message<Snapshot> for BankMaintenance<B> {
    type Reply = Result<B::Bank, ActorError>;

    async fn handle(&mut self, _: Snapshot, _: &mut Context<Self, Self::Reply>) -> Self::Reply {
        self.work(|banks| banks.snapshot())
    }
}

impl<B: Banks> Message<Configure<B::Settings>> for BankMaintenance<B> {
    type Reply = ();

    async fn handle(&mut self, Configure(settings): Configure<B::Settings>, _: &mut Context<Self, ()>) {
        let _ = self.work(|banks| {
            banks.configure(settings);
            Ok(())
        });
    }
}

impl<B: Banks> Message<Replace<B::Bank>> for BankMaintenance<B> {
    type Reply = ();

    async fn handle(&mut self, Replace(bank): Replace<B::Bank>, _: &mut Context<Self, ()>) {
        let _ = self.work(|banks| {
            banks.replace(bank);
            Ok(())
        });
    }
}

/// The actor's mailbox (made by the topology).
pub type Mailbox<B> = (MailboxSender<BankMaintenance<B>>, MailboxReceiver<BankMaintenance<B>>);

/// Targets asked for and not yet taken.
pub struct PendingTargets<'a, B: Banks>(BlockingPendingReply<'a, Targets<B::Keys>, Result<B::Targets, ActorError>>);

impl<B: Banks> PendingTargets<'_, B> {
    /// Waits for the targets.
    pub fn wait(self) -> Result<B::Targets, ActorError> {
        self.0.recv().map_err(|error| ActorError::from_send(error, NAME.0))
    }
}

/// The running actor: its address and its thread.
pub struct BankMaintenanceRef<B: Banks> {
    actor: ActorRef<BankMaintenance<B>>,
    thread: ActorThread,
    busy_nanos: Arc<AtomicU64>,
}

impl<B: Banks> std::fmt::Debug for BankMaintenanceRef<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BankMaintenanceRef").field("busy", &self.busy()).finish()
    }
}

impl<B: Banks> BankMaintenanceRef<B> {
    /// Starts the actor on `banks`, reading `mailbox`. Fails only if the OS refuses a thread.
    pub fn start(banks: B, mailbox: Mailbox<B>) -> std::io::Result<Self> {
        let busy_nanos = Arc::new(AtomicU64::new(0));
        let prepared = PreparedActor::new(mailbox);
        let actor = prepared.actor_ref().clone();
        let state = BankMaintenance { banks, failed: None, busy_nanos: busy_nanos.clone() };
        let thread = actor_runtime::spawn_on_thread(NAME.1, prepared, state)?;
        Ok(Self { actor, thread, busy_nanos })
    }

    /// Asks for the targets of `keys`; take them with [`PendingTargets::wait`].
    pub fn targets(&self, keys: B::Keys) -> Result<PendingTargets<'_, B>, ActorError> {
        // kameo 0.22's enqueue panics on a stopped actor (it cannot hand the message back), so a
        // stopped actor is answered here; one that stops between this check and the send is the
        // remaining window, and its panic reaches the caller's guard as a panic.
        if !self.actor.is_alive() {
            return Err(self.stopped());
        }
        let pending = self.actor.ask(Targets(keys)).blocking_enqueue().map_err(|_| self.stopped())?;
        Ok(PendingTargets(pending))
    }

    /// Queues the update after a step; a failure is the answer to the next question.
    pub fn update(&self, keys: B::Keys, applied: B::Applied) -> Result<(), ActorError> {
        self.actor.tell(Update { keys, applied }).blocking_send().map_err(|_| self.stopped())
    }

    /// A deep copy of V after every job sent so far.
    pub fn snapshot(&self) -> Result<B::Bank, ActorError> {
        self.actor.ask(Snapshot).blocking_send().map_err(|error| ActorError::from_send(error, NAME.0))
    }

    /// Queues new settings.
    pub fn configure(&self, settings: B::Settings) -> Result<(), ActorError> {
        self.actor.tell(Configure(settings)).blocking_send().map_err(|_| self.stopped())
    }

    /// Queues a bank to take V's place.
    pub fn replace(&self, bank: B::Bank) -> Result<(), ActorError> {
        self.actor.tell(Replace(bank)).blocking_send().map_err(|_| self.stopped())
    }

    /// The actor's address (for links).
    pub fn actor(&self) -> &ActorRef<BankMaintenance<B>> {
        &self.actor
    }

    /// Time the actor spent working.
    pub fn busy(&self) -> Duration {
        Duration::from_nanos(self.busy_nanos.load(Ordering::Relaxed))
    }

    fn stopped(&self) -> ActorError {
        ActorError::Stopped { actor: NAME.0 }
    }
}

impl<B: Banks> Drop for BankMaintenanceRef<B> {
    /// The job in hand finishes, queued ones are dropped: nobody will read them.
    fn drop(&mut self) {
        self.actor.kill();
        self.thread.join_within(Duration::from_secs(10));
    }
}

//! The process's one tokio runtime, on which kameo drives every actor's mailbox. The heavy actors
//! (device stage, student optimisation, bank maintenance, the writers) each run on a thread of
//! their own, because their work blocks — on the accelerator, on the disk — and tokio must never
//! have a worker blocked; they share this runtime for kameo's signals and timers.
//!
//! Inside an actor's work the thread leaves the runtime's context (`block_in_place`), so that
//! the work may wait like any plain thread: on a channel, or on another actor's mailbox (the
//! student step asks bank maintenance for its targets).

use std::convert::Infallible;
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError};

use kameo::actor::{ActorRef, PreparedActor};
use kameo::Actor;
use tokio::runtime::{Handle, Runtime};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The runtime's handle, started on first use. Fails only if the OS refuses its worker thread.
pub fn handle() -> std::io::Result<Handle> {
    if let Some(runtime) = RUNTIME.get() {
        return Ok(runtime.handle().clone());
    }
    // Its one worker only wakes actors: their work runs on their own threads.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("lgd-actors")
        .enable_time()
        .build()?;
    // Two first users at once: one runtime wins, the other is dropped unused.
    let _ = RUNTIME.set(runtime);
    Ok(RUNTIME.get().expect("set just above").handle().clone())
}

/// Runs `actor` on an OS thread named `thread`, driven by the shared runtime (kameo's
/// `spawn_in_thread`, with a thread name of ours and an error instead of a panic when the OS
/// refuses the thread). The thread ends when the actor has stopped.
pub fn spawn_on_thread<A: Actor>(
    thread: &str,
    prepared: PreparedActor<A>,
    args: A::Args,
) -> std::io::Result<ActorThread> {
    let runtime = handle()?;
    // Fixed by protocol: nothing is sent; it closes when the thread ends.
    let (exited_tx, exited) = bounded::<Infallible>(0);
    let thread = std::thread::Builder::new().name(thread.into()).spawn(move || {
        let _exited = exited_tx;
        let _ = runtime.block_on(prepared.run(args));
    })?;
    Ok(ActorThread { thread: Some(thread), exited })
}

/// The thread an actor runs on, for joining it with a deadline.
#[derive(Debug)]
pub struct ActorThread {
    thread: Option<JoinHandle<()>>,
    /// Closes when the thread ends (it holds the only sender): a join with a deadline waits on
    /// this instead of polling the thread.
    exited: Receiver<Infallible>,
}

impl ActorThread {
    /// Waits at most `grace` for the thread to end (`Duration::MAX`: for as long as it takes);
    /// returns whether it did. A thread still running is left behind.
    pub fn join_within(&mut self, grace: Duration) -> bool {
        let Some(thread) = self.thread.take() else { return true };
        // Closed: the actor has stopped, and a join waits only for the thread's last instructions.
        let ended = match Instant::now().checked_add(grace) {
            Some(deadline) => matches!(self.exited.recv_deadline(deadline), Err(RecvTimeoutError::Disconnected)),
            None => self.exited.recv().is_err(),
        };
        if ended || thread.is_finished() {
            let _ = thread.join();
            true
        } else {
            false
        }
    }
}

/// Links two actors as siblings (kameo's links): when either stops abnormally — killed,
/// panicked, or stopped by another link — kameo stops the other, so a topology does not run on
/// with half its actors gone.
pub fn link<A: Actor, B: Actor>(a: &ActorRef<A>, b: &ActorRef<B>) -> std::io::Result<()> {
    block_on(a.link(b))
}

/// Runs blocking `work` from inside an actor's handler: the thread leaves the runtime's context
/// for it, so the work may block on channels and mailboxes, which tokio refuses inside it.
pub fn run_blocking<R>(work: impl FnOnce() -> R) -> R {
    tokio::task::block_in_place(work)
}

/// Waits for `future` from a plain thread (the loop's), on the shared runtime.
pub fn block_on<F: std::future::Future>(future: F) -> std::io::Result<F::Output> {
    Ok(handle()?.block_on(future))
}

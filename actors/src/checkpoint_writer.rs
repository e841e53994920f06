//! The checkpoint writer: an actor on a thread of its own to which the loop hands a host copy of
//! the training state at a step boundary, through a mailbox of `pipeline.checkpoint_requests`
//! (their memory is the bound). It writes (temporary file, fsync, rename) and prunes while
//! training goes on, and reports each request's outcome back on a channel the loop drains once
//! per step. Generic over [`CheckpointStore`], which the daemon implements
//! (`src/daemon/checkpoint_writer.rs`).

use crossbeam_channel::Sender;

use crate::stage_actor::{Mailbox, StageHandle, StageOutput, StageWork};

/// The actor's name in messages and its thread's name.
pub const NAME: (&str, &str) = ("checkpoint writer", "lgd-checkpoint");

/// Where checkpoints go.
pub trait CheckpointStore: Send + 'static {
    /// One checkpoint to write.
    type Request: Send + 'static;
    /// What became of it (a failed write is an outcome: the writer goes on).
    type Outcome: Send + 'static;
    /// Writes `request`.
    fn write(&mut self, request: Self::Request) -> Self::Outcome;
}

/// The work of the actor's stage (its message: one request).
pub struct Writing<C>(C);

impl<C: CheckpointStore> StageWork for Writing<C> {
    type Input = C::Request;
    type Output = C::Outcome;
    type Error = std::convert::Infallible;

    fn run(&mut self, request: C::Request) -> Result<C::Outcome, Self::Error> {
        Ok(self.0.write(request))
    }
}

/// The running actor.
pub type CheckpointWriterRef<C> = StageHandle<Writing<C>>;

/// Starts the actor on `store` with the ends the topology made. Fails only if the OS refuses a
/// thread.
pub fn start<C: CheckpointStore>(
    store: C,
    mailbox: Mailbox<Writing<C>>,
    outcomes: Sender<StageOutput<Writing<C>>>,
) -> std::io::Result<CheckpointWriterRef<C>> {
    StageHandle::start(NAME, Writing(store), mailbox, outcomes)
}

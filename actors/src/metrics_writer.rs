//! The metrics writer: an actor on a thread of its own to which the loop hands each record
//! (`metrics.jsonl`, TensorBoard scalars, the bad-sample list) and goes on, so the loop never
//! waits for the disk. What it could not write comes back on a channel the loop drains at every
//! record and logs: a metrics failure does not stop training. Generic over [`MetricsStore`],
//! which the daemon implements (`src/daemon/metrics.rs`).

use crossbeam_channel::Sender;

use crate::stage_actor::{Mailbox, StageHandle, StageOutput, StageWork};

/// The actor's name in messages and its thread's name.
pub const NAME: (&str, &str) = ("metrics writer", "lgd-metrics");

/// Where metrics go.
pub trait MetricsStore: Send + 'static {
    /// One thing to write.
    type Item: Send + 'static;
    /// Why it was not written.
    type Error: std::error::Error + Send + Sync + 'static;
    /// Writes `item`.
    fn write(&mut self, item: Self::Item) -> Result<(), Self::Error>;
}

/// The work of the actor's stage (its message: one item).
pub struct Writing<M>(M);

impl<M: MetricsStore> StageWork for Writing<M> {
    type Input = M::Item;
    type Output = ();
    type Error = M::Error;

    fn run(&mut self, item: M::Item) -> Result<(), M::Error> {
        self.0.write(item)
    }
}

/// The running actor.
pub type MetricsWriterRef<M> = StageHandle<Writing<M>>;

/// Starts the actor on `store` with the ends the topology made. Fails only if the OS refuses a
/// thread.
pub fn start<M: MetricsStore>(
    store: M,
    mailbox: Mailbox<Writing<M>>,
    failures: Sender<StageOutput<Writing<M>>>,
) -> std::io::Result<MetricsWriterRef<M>> {
    StageHandle::start(NAME, Writing(store), mailbox, failures)
}

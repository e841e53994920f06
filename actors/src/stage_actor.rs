//! A pipeline stage as a kameo actor on a thread of its own: it takes inputs from a bounded
//! mailbox, runs the caller's [`StageWork`] on each, and sends the results, in order, into a
//! bounded output channel. Both channels are made by the caller's topology, so a slow consumer
//! back-pressures the stage and a slow stage its producers. A panic in the work reaches the
//! consumer as an `Err` carrying the panic's message, and the stage stops.
//!
//! Five stages of a training run use it: the device stage (upload, photometric half, teacher;
//! `src/daemon/device_work.rs`), student optimisation (`src/daemon/student_stage.rs`), bank
//! maintenance (`src/train/bank_stage.rs`, owned by the trainer inside the student stage), the
//! checkpoint writer (`src/daemon/checkpoint_writer.rs`) and the metrics writer
//! (`src/daemon/metrics.rs`). Their work blocks (on the accelerator, on the disk),
//! hence a thread each; kameo drives the mailbox.

use std::convert::Infallible;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use kameo::actor::{ActorRef, PreparedActor, WeakActorRef};
use kameo::error::{ActorStopReason, PanicError};
use kameo::mailbox::{MailboxReceiver, MailboxSender};
use kameo::message::{Context, Message};
use kameo::Actor;

/// What a stage does to each input.
pub trait StageWork: Send + 'static {
    /// What the stage takes.
    type Input: Send + 'static;
    /// What it hands on.
    type Output: Send + 'static;
    /// The work for one input; an error is handed on in the output's place.
    fn run(&mut self, input: Self::Input) -> Result<Self::Output, String>;
}

/// A stage's result for one input, or why there is none (its error, or its panic).
pub type StageOutput<W> = Result<<W as StageWork>::Output, String>;

/// The actor: the work and where its results go (started through [`StageHandle`]).
pub struct StageActor<W: StageWork> {
    name: &'static str,
    work: W,
    outputs: Sender<StageOutput<W>>,
    busy_nanos: Arc<AtomicU64>,
}

impl<W: StageWork> Actor for StageActor<W> {
    type Args = Self;
    type Error = Infallible;

    async fn on_start(stage: Self, _: ActorRef<Self>) -> Result<Self, Infallible> {
        Ok(stage)
    }

    /// A panic in the work reaches the consumer as an error (its channel would otherwise just close).
    async fn on_panic(
        &mut self,
        _: WeakActorRef<Self>,
        error: PanicError,
    ) -> Result<ControlFlow<ActorStopReason>, Infallible> {
        let _ = self.outputs.try_send(Err(format!("{} panicked: {error}", self.name)));
        Ok(ControlFlow::Break(ActorStopReason::Panicked(error)))
    }
}

/// One input for the stage.
pub struct Job<I>(I);

impl<W: StageWork> Message<Job<W::Input>> for StageActor<W> {
    type Reply = ();

    async fn handle(&mut self, Job(input): Job<W::Input>, _: &mut Context<Self, ()>) {
        let start = Instant::now();
        let output = self.work.run(input);
        self.busy_nanos.fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
        // Blocks while the consumer is behind (back-pressure); fails only once it has gone.
        let _ = self.outputs.send(output);
    }
}

/// The running stage: its address, its thread and the runtime kameo schedules it on.
pub struct StageHandle<W: StageWork> {
    actor: ActorRef<StageActor<W>>,
    thread: Option<JoinHandle<()>>,
    /// Closes when the stage's thread ends (it holds the only sender): a join with a deadline
    /// waits on this instead of polling the thread.
    exited: Receiver<Infallible>,
    busy_nanos: Arc<AtomicU64>,
    name: &'static str,
    /// Kameo's actors live on a tokio runtime; this one has a single worker and exists for them
    /// (`None` only while the handle is dropped).
    runtime: Option<tokio::runtime::Runtime>,
}

impl<W: StageWork> std::fmt::Debug for StageHandle<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StageHandle").field("name", &self.name).field("busy", &self.busy()).finish()
    }
}

/// Why the stage refused an input.
#[derive(Debug, thiserror::Error)]
#[error("the {0} has stopped")]
pub struct StageStopped(pub &'static str);

impl<W: StageWork> StageHandle<W> {
    /// Starts the stage, called `name` in messages and `thread` as an OS thread, with the
    /// `mailbox` and `outputs` channels the topology made. Fails only if the OS refuses a thread.
    pub fn start(
        (name, thread): (&'static str, &str),
        work: W,
        mailbox: (MailboxSender<StageActor<W>>, MailboxReceiver<StageActor<W>>),
        outputs: Sender<StageOutput<W>>,
    ) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("lgd-kameo")
            .enable_time()
            .build()?;
        let busy_nanos = Arc::new(AtomicU64::new(0));
        let stage = StageActor { name, work, outputs, busy_nanos: busy_nanos.clone() };
        let prepared = PreparedActor::new(mailbox);
        let actor = prepared.actor_ref().clone();
        let handle = runtime.handle().clone();
        // Fixed by protocol: nothing is sent; it closes when the thread ends.
        let (exited_tx, exited) = bounded::<Infallible>(0);
        // The work blocks, so the actor gets a thread of its own; kameo drives its mailbox there
        // (what `spawn_in_thread` does, with a thread name and no panic on a refused thread).
        let thread = std::thread::Builder::new().name(thread.into()).spawn(move || {
            let _exited = exited_tx;
            let _ = handle.block_on(prepared.run(stage));
        })?;
        Ok(Self { name, actor, thread: Some(thread), exited, busy_nanos, runtime: Some(runtime) })
    }

    /// Queues `input`; waits while the mailbox is full. Works from a plain thread and from the
    /// work of another stage, which runs inside its runtime, where tokio refuses blocking sends.
    pub fn submit(&self, input: W::Input) -> Result<(), StageStopped> {
        let request = self.actor.tell(Job(input));
        let sent = if tokio::runtime::Handle::try_current().is_ok() {
            // Unconstrained: a send inside a stage's work would otherwise draw on the budget tokio
            // gave the task driving that stage, and once it is spent tokio answers "later" and
            // wakes at once: this executor would poll again and again and never get through.
            futures_executor::block_on(tokio::task::unconstrained(request.send()))
        } else {
            request.blocking_send()
        };
        sent.map_err(|_| StageStopped(self.name))
    }

    /// Time the stage spent working.
    pub fn busy(&self) -> Duration {
        Duration::from_nanos(self.busy_nanos.load(Ordering::Relaxed))
    }

    /// Stops the stage after the input in hand (queued ones are dropped) and joins its thread,
    /// waiting at most `grace`; returns whether the thread finished.
    pub fn shutdown_within(mut self, grace: Duration) -> bool {
        self.actor.kill();
        self.join_within(grace)
    }

    /// Lets the stage finish every queued input, then stops it and joins its thread.
    pub fn finish(mut self) {
        // The stop signal queues behind the inputs already in the mailbox.
        if let Some(runtime) = &self.runtime {
            let _ = runtime.block_on(self.actor.stop_gracefully());
        }
        self.join_within(Duration::MAX);
    }

    fn join_within(&mut self, grace: Duration) -> bool {
        let Some(thread) = self.thread.take() else { return true };
        // Closed: every body has returned, and a join waits only for the thread's last instructions.
        let all_ended = match Instant::now().checked_add(grace) {
            Some(deadline) => matches!(self.exited.recv_deadline(deadline), Err(RecvTimeoutError::Disconnected)),
            None => self.exited.recv().is_err(),
        };
        if all_ended || thread.is_finished() {
            let _ = thread.join();
            true
        } else {
            false
        }
    }
}

impl<W: StageWork> Drop for StageHandle<W> {
    /// Without blocking: a stage may be dropped inside another stage's work (bank maintenance
    /// lives in the trainer, which lives in the student stage), where tokio refuses to block.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The message a panic carried (`panic!` with a literal or a formatted string).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// A stage's mailbox of `capacity` inputs (for the topology that creates every channel).
pub fn mailbox<W: StageWork>(capacity: usize) -> (MailboxSender<StageActor<W>>, MailboxReceiver<StageActor<W>>) {
    kameo::mailbox::bounded(capacity)
}

/// A stage's ends, made by the topology: the mailbox it reads, the channel its outcomes go out
/// on, and the receiver of those outcomes for whoever fed it.
pub struct StageWiring<W: StageWork> {
    /// The stage's bounded mailbox.
    pub mailbox: (MailboxSender<StageActor<W>>, MailboxReceiver<StageActor<W>>),
    /// Where the stage sends each input's outcome.
    pub outputs: Sender<StageOutput<W>>,
    /// Where they are read.
    pub replies: crossbeam_channel::Receiver<StageOutput<W>>,
}

impl<W: StageWork> StageWiring<W> {
    /// A mailbox of `mailbox` inputs, and `outputs` (a channel the topology made) for the outcomes.
    pub fn new(
        mailbox: usize,
        (outputs, replies): (Sender<StageOutput<W>>, crossbeam_channel::Receiver<StageOutput<W>>),
    ) -> Self {
        Self { mailbox: self::mailbox::<W>(mailbox), outputs, replies }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch_pixels::BatchPixels;
    use crate::data_pipeline::HostBatch;

    /// Doubles the step index; panics on `panic_at`; counts batches it has started.
    struct Doubler {
        started: Arc<AtomicU64>,
        panic_at: Option<u64>,
    }

    impl StageWork for Doubler {
        type Input = HostBatch;
        type Output = u64;
        fn run(&mut self, batch: HostBatch) -> Result<u64, String> {
            self.started.fetch_add(1, Ordering::SeqCst);
            if Some(batch.step_in_epoch) == self.panic_at {
                panic!("batch {} is cursed", batch.step_in_epoch);
            }
            Ok(batch.step_in_epoch * 2)
        }
    }

    fn host(step: u64) -> HostBatch {
        HostBatch {
            epoch: 0,
            step_in_epoch: step,
            pixels: BatchPixels::normalized_from(&[]),
            labels: Vec::new(),
            indices: Vec::new(),
            bad: Vec::new(),
        }
    }

    fn start(
        panic_at: Option<u64>,
        mailbox_capacity: usize,
        outputs_capacity: usize,
    ) -> (StageHandle<Doubler>, crossbeam_channel::Receiver<StageOutput<Doubler>>, Arc<AtomicU64>) {
        let started = Arc::new(AtomicU64::new(0));
        let (outputs, prepared) = crossbeam_channel::bounded(outputs_capacity);
        let work = Doubler { started: started.clone(), panic_at };
        let stage =
            StageHandle::start(("doubling stage", "lgd-test-stage"), work, mailbox(mailbox_capacity), outputs).unwrap();
        (stage, prepared, started)
    }

    #[test]
    fn batches_come_out_prepared_and_in_order() {
        let (stage, prepared, _) = start(None, 2, 2);
        for step in 0..20 {
            stage.submit(host(step)).unwrap();
            if step >= 3 {
                assert_eq!(prepared.recv().unwrap().unwrap(), (step - 3) * 2);
            }
        }
        let rest: Vec<u64> = (0..3).map(|_| prepared.recv().unwrap().unwrap()).collect();
        assert_eq!(rest, [34, 36, 38]);
        assert!(stage.shutdown_within(Duration::from_secs(5)));
    }

    #[test]
    fn a_full_output_channel_holds_the_stage_back() {
        let (stage, prepared, started) = start(None, 2, 1);
        for step in 0..4 {
            stage.submit(host(step)).unwrap();
        }
        std::thread::sleep(Duration::from_millis(200));
        // One waits in the output channel, one in the stage's hands blocked on sending it; the
        // other two stay in the mailbox until the step takes something out.
        assert_eq!(started.load(Ordering::SeqCst), 2);
        assert_eq!(prepared.len(), 1);
        assert_eq!(prepared.recv().unwrap().unwrap(), 0);
        let rest: Vec<u64> = (0..3).map(|_| prepared.recv().unwrap().unwrap()).collect();
        assert_eq!(rest, [2, 4, 6]);
        drop(prepared);
        assert!(stage.shutdown_within(Duration::from_secs(5)));
    }

    #[test]
    fn finish_works_off_every_queued_input_before_stopping() {
        let (stage, prepared, started) = start(None, 8, 8);
        for step in 0..6 {
            stage.submit(host(step)).unwrap();
        }
        stage.finish();
        assert_eq!(started.load(Ordering::SeqCst), 6);
        let all: Vec<u64> = prepared.try_iter().map(|r| r.unwrap()).collect();
        assert_eq!(all, [0, 2, 4, 6, 8, 10]);
    }

    #[test]
    fn a_panic_reaches_the_consumer_as_an_error_and_stops_the_stage() {
        let (stage, prepared, _) = start(Some(1), 4, 4);
        stage.submit(host(0)).unwrap();
        stage.submit(host(1)).unwrap();
        assert_eq!(prepared.recv().unwrap().unwrap(), 0);
        let error = prepared.recv_timeout(Duration::from_secs(5)).unwrap().unwrap_err();
        assert!(error.contains("doubling stage panicked") && error.contains("batch 1 is cursed"), "{error}");
        // The stage is gone: its channel closes and it takes no more batches.
        assert!(prepared.recv_timeout(Duration::from_secs(5)).is_err());
        let deadline = Instant::now() + Duration::from_secs(5);
        while stage.submit(host(2)).is_ok() {
            assert!(Instant::now() < deadline, "a dead stage still accepts batches");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(stage.shutdown_within(Duration::from_secs(5)));
    }

    /// Feeds each input `copies` times to an inner stage it owns and hands on the sum of the inner
    /// answers: a stage inside another's work (the student step and bank maintenance), which must
    /// neither block tokio nor drop a runtime inside one.
    struct Forwarder {
        inner: StageHandle<Doubler>,
        answers: crossbeam_channel::Receiver<StageOutput<Doubler>>,
        copies: u64,
    }

    impl StageWork for Forwarder {
        type Input = HostBatch;
        type Output = u64;
        fn run(&mut self, batch: HostBatch) -> Result<u64, String> {
            let mut sum = 0;
            for _ in 0..self.copies {
                self.inner.submit(host(batch.step_in_epoch)).map_err(|e| e.to_string())?;
                sum += self.answers.recv().map_err(|e| e.to_string())??;
            }
            Ok(sum)
        }
    }

    fn start_forwarder(
        copies: u64,
    ) -> (StageHandle<Forwarder>, crossbeam_channel::Receiver<StageOutput<Forwarder>>, Arc<AtomicU64>) {
        let (inner, answers, started) = start(None, 1, 1);
        let (outputs, results) = crossbeam_channel::bounded(4);
        let outer = StageHandle::start(
            ("outer stage", "lgd-test-outer"),
            Forwarder { inner, answers, copies },
            mailbox(4),
            outputs,
        )
        .unwrap();
        (outer, results, started)
    }

    #[test]
    fn a_stage_can_own_and_feed_another_stage() {
        let (outer, results, started) = start_forwarder(1);
        for step in 0..3 {
            outer.submit(host(step)).unwrap();
        }
        let all: Vec<u64> = (0..3).map(|_| results.recv().unwrap().unwrap()).collect();
        assert_eq!(all, [0, 2, 4]);
        assert_eq!(started.load(Ordering::SeqCst), 3);
        // The inner stage goes down with the outer one's work, on the outer stage's thread.
        assert!(outer.shutdown_within(Duration::from_secs(5)));
    }

    /// tokio gives the task that drives a stage a budget of 128 operations per wake-up; a send
    /// made inside the work used to draw on it, and the first send to find it spent waited, on a
    /// wake-up that never came, spinning (a training run hung this way after 1,200 steps).
    #[test]
    fn a_stage_may_feed_another_any_number_of_times_within_one_input() {
        let (outer, results, started) = start_forwarder(1000);
        outer.submit(host(3)).unwrap();
        let sum = results.recv_timeout(Duration::from_secs(60)).expect("the outer stage is stuck in a send").unwrap();
        assert_eq!(sum, 6000);
        assert_eq!(started.load(Ordering::SeqCst), 1000);
        assert!(outer.shutdown_within(Duration::from_secs(5)));
    }
}

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
//! hence a thread each; kameo drives the mailbox, on the process's one runtime (`actor_runtime`).

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use kameo::actor::{ActorRef, PreparedActor};
use kameo::mailbox::{MailboxReceiver, MailboxSender};
use kameo::message::{Context, Message};
use kameo::Actor;

use crate::actor_error::{guarded, ActorError};
use crate::actor_runtime::{self, ActorThread};

/// What a stage does to each input.
pub trait StageWork: Send + 'static {
    /// What the stage takes.
    type Input: Send + 'static;
    /// What it hands on.
    type Output: Send + 'static;
    /// Why the work for one input failed.
    type Error: std::error::Error + Send + Sync + 'static;
    /// The work for one input; an error is handed on in the output's place.
    fn run(&mut self, input: Self::Input) -> Result<Self::Output, Self::Error>;
}

/// A stage's result for one input, or why there is none (its error, or its panic).
pub type StageOutput<W> = Result<<W as StageWork>::Output, ActorError>;

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
}

/// One input for the stage.
pub struct Job<I>(I);

impl<W: StageWork> Message<Job<W::Input>> for StageActor<W> {
    type Reply = ();

    async fn handle(&mut self, Job(input): Job<W::Input>, context: &mut Context<Self, ()>) {
        let panicked = actor_runtime::run_blocking(|| {
            let start = Instant::now();
            let output = guarded(self.name, || self.work.run(input));
            self.busy_nanos.fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
            let panicked = matches!(output, Err(ActorError::Panicked { .. }));
            // Blocks while the consumer is behind (back-pressure); fails only once it has gone.
            let _ = self.outputs.send(output);
            panicked
        });
        // The work's state is of unknown consistency after a panic: the stage takes no more inputs,
        // and its output channel closes behind the error.
        if panicked {
            context.stop();
        }
    }
}

/// The running stage: its address and its thread.
pub struct StageHandle<W: StageWork> {
    actor: ActorRef<StageActor<W>>,
    thread: ActorThread,
    busy_nanos: Arc<AtomicU64>,
    name: &'static str,
}

impl<W: StageWork> std::fmt::Debug for StageHandle<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StageHandle").field("name", &self.name).field("busy", &self.busy()).finish()
    }
}

impl<W: StageWork> StageHandle<W> {
    /// Starts the stage, called `name` in messages and `thread` as an OS thread, with the
    /// `mailbox` and `outputs` channels the topology made. Fails only if the OS refuses a thread.
    pub fn start(
        (name, thread): (&'static str, &str),
        work: W,
        mailbox: Mailbox<W>,
        outputs: Sender<StageOutput<W>>,
    ) -> std::io::Result<Self> {
        let busy_nanos = Arc::new(AtomicU64::new(0));
        let stage = StageActor { name, work, outputs, busy_nanos: busy_nanos.clone() };
        let prepared = PreparedActor::new(mailbox);
        let actor = prepared.actor_ref().clone();
        let thread = actor_runtime::spawn_on_thread(thread, prepared, stage)?;
        Ok(Self { name, actor, thread, busy_nanos })
    }

    /// Queues `input`; waits while the mailbox is full. Called from a plain thread or from the
    /// work of another stage (which runs outside the runtime's context, see `actor_runtime`).
    pub fn submit(&self, input: W::Input) -> Result<(), ActorError> {
        self.actor.tell(Job(input)).blocking_send().map_err(|_| ActorError::Stopped { actor: self.name })
    }

    /// Time the stage spent working.
    pub fn busy(&self) -> Duration {
        Duration::from_nanos(self.busy_nanos.load(Ordering::Relaxed))
    }

    /// Stops the stage after the input in hand (queued ones are dropped) and joins its thread,
    /// waiting at most `grace`; returns whether the thread finished.
    pub fn shutdown_within(mut self, grace: Duration) -> bool {
        self.actor.kill();
        self.thread.join_within(grace)
    }

    /// Lets the stage finish every queued input, then stops it and joins its thread.
    pub fn finish(mut self) {
        // The stop signal queues behind the inputs already in the mailbox.
        let _ = actor_runtime::block_on(self.actor.stop_gracefully());
        self.thread.join_within(Duration::MAX);
    }
}

/// A stage's mailbox.
pub type Mailbox<W> = (MailboxSender<StageActor<W>>, MailboxReceiver<StageActor<W>>);

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
        type Error = std::convert::Infallible;
        fn run(&mut self, batch: HostBatch) -> Result<u64, Self::Error> {
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
        let stage = StageHandle::start(
            ("doubling stage", "lgd-test-stage"),
            work,
            kameo::mailbox::bounded(mailbox_capacity),
            outputs,
        )
        .unwrap();
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
        let error = prepared.recv_timeout(Duration::from_secs(5)).unwrap().unwrap_err().to_string();
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
    /// answers: a stage that waits on another's mailbox and outputs from inside its own work (the
    /// student step asks bank maintenance for its targets).
    struct Forwarder {
        inner: StageHandle<Doubler>,
        answers: crossbeam_channel::Receiver<StageOutput<Doubler>>,
        copies: u64,
    }

    impl StageWork for Forwarder {
        type Input = HostBatch;
        type Output = u64;
        type Error = ActorError;
        fn run(&mut self, batch: HostBatch) -> Result<u64, ActorError> {
            let mut sum = 0;
            for _ in 0..self.copies {
                self.inner.submit(host(batch.step_in_epoch))?;
                sum += self.answers.recv().map_err(|_| ActorError::Stopped { actor: "doubling stage" })??;
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
            kameo::mailbox::bounded(4),
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
    /// made inside the work once drew on it, and the first send to find it spent waited, on a
    /// wake-up that never came (a training run hung this way after 1,200 steps). The work now
    /// runs outside the runtime's context, where no budget applies.
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

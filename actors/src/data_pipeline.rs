//! The data half of the topology: sampler → decode/augment workers → batch assembler → trainer.
//! The topology makes every channel ([`DataChannels`], capacities from `[pipeline]` or fixed by
//! protocol) and `DataPipeline::start` hands each stage only its ends. Full channels block the stage before them, so a slow trainer back-pressures the
//! decoders and memory stays bounded by the capacities. Shutdown closes the stop channel, which
//! wakes every stage blocked on a channel, and waits for each thread to drop its end of the exit
//! channel: no stage polls, every thread is joined (or, stuck in a read that never returns, left
//! behind after the grace), none is killed.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use lgd_datasets::augment::pipeline::Workspace;

use crate::awake_wait::recv_within_running_time;
use crate::batch_assembly::assemble;
use crate::batch_memory::BatchMemory;
use crate::batch_pixels::BatchPixels;
use crate::decode_worker::{Job, Produced, WorkerContext};
use crate::pipeline_stats::PipelineStats;
use crate::sampler::{sample, steps_per_epoch, Shard};
use crate::stop_channel::{receive_unless_stopped, send_unless_stopped, Never};

/// A batch ready for the device, in epoch order.
#[derive(Debug)]
pub struct HostBatch {
    /// Epoch.
    pub epoch: u64,
    /// Index of the batch in its epoch.
    pub step_in_epoch: u64,
    /// Pixels: normalised floats, or u8 views for the device's photometric stage.
    pub pixels: BatchPixels,
    /// Labels.
    pub labels: Vec<u32>,
    /// The dataset index each slot was drawn for (a replaced bad file keeps its slot's index:
    /// the replacement is the same on every run, so the index still names the pixels).
    pub indices: Vec<usize>,
    /// Files replaced while producing this batch (path, reason).
    pub bad: Vec<(PathBuf, String)>,
}

/// Why the pipeline stopped delivering.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A pipeline thread ended before delivering every planned batch (it panicked).
    #[error("the data pipeline stopped early after {delivered} batches (a worker or the assembler failed)")]
    StoppedEarly {
        /// Batches delivered before it stopped.
        delivered: u64,
    },
    /// No sample could be produced for a slot (every replacement failed too), or no memory could
    /// be had to assemble the batch in.
    #[error("epoch {epoch}, batch {batch}: {cause}")]
    Unfillable {
        /// Epoch.
        epoch: u64,
        /// Batch in that epoch.
        batch: u64,
        /// Why (boxed: a rare error, kept small for the batches' channel).
        #[source]
        cause: Box<Unfillable>,
    },
}

/// Why a batch could not be filled.
#[derive(Debug, thiserror::Error)]
pub enum Unfillable {
    /// A slot had no sample.
    #[error(transparent)]
    NoSample(#[from] crate::decode_worker::NoSample),
    /// The batch had no memory to be assembled in.
    #[error("no memory to assemble the batch in: {0}")]
    NoMemory(#[from] crate::batch_memory::AllocError),
}

/// Where the data starts and what it looks like.
#[derive(Debug, Clone)]
pub struct DataPlan {
    /// Samples per batch (this replica's).
    pub batch: usize,
    /// Side of the square views.
    pub image_size: usize,
    /// First epoch to produce.
    pub start_epoch: u64,
    /// First batch of that epoch (mid-epoch resume).
    pub start_step: u64,
    /// One past the last epoch.
    pub epochs: u64,
    /// Seed of the epoch orders.
    pub seed: u64,
    /// This replica's part of each global batch (`Shard::WHOLE` for a single process).
    pub shard: Shard,
    /// Where batches are assembled ([`Heap`](crate::batch_memory::Heap), or the training
    /// device's page-locked tensors).
    pub memory: Arc<dyn BatchMemory>,
}

/// What the assembler hands the trainer: the next batch in order, or why there is none.
pub type Delivery = Result<HostBatch, PipelineError>;

/// Every channel of the data pipeline, made by the topology and handed to [`DataPipeline::start`].
pub struct DataChannels {
    /// Sampler → decode workers: the samples to produce (`pipeline.decoded_samples`).
    pub jobs: (Sender<Job>, Receiver<Job>),
    /// Decode workers → assembler: produced samples (`pipeline.decoded_samples`).
    pub decoded: (Sender<Produced>, Receiver<Produced>),
    /// Assembler → trainer: batches in order (`pipeline.host_batches`).
    pub batches: (Sender<Delivery>, Receiver<Delivery>),
    /// Assembler → sampler: one credit per batch the sampler may run ahead ([`credit_window`]).
    pub credits: (Sender<()>, Receiver<()>),
    /// Fixed by protocol (capacity 0, never sent on): dropping the sender stops every stage.
    pub stop: (Sender<Never>, Receiver<Never>),
    /// Fixed by protocol (capacity 0, never sent on): closes once every thread has ended.
    pub exited: (Sender<Never>, Receiver<Never>),
}

/// How many batches the sampler may run ahead of the assembler: what the decoded samples'
/// channel holds, plus one. Without the bound, one slow sample could make the assembler hoard
/// partial batches without limit.
pub fn credit_window(decoded_samples: usize, batch: usize) -> usize {
    (decoded_samples / batch.max(1)).max(1) + 1
}

/// What waiting for the next batch gave.
#[derive(Debug)]
pub enum Next {
    /// The next batch in order, or why the pipeline died.
    Batch(Delivery),
    /// Every planned batch was delivered.
    Done,
    /// Nothing arrived in time (the stall watchdog decides what that means).
    TimedOut,
}

/// The running data pipeline.
pub struct DataPipeline {
    batches: Option<Receiver<Delivery>>,
    /// Never sent on: dropping it closes the channel, which every stage selects on beside its work.
    stop: Option<Sender<Never>>,
    /// Closed once every thread has dropped its sender: all of them have ended.
    exited: Receiver<Never>,
    /// Set by the assembler once the last planned batch is sent: a closed channel without it
    /// means a stage died, which must not pass for the end of training.
    completed: Arc<AtomicBool>,
    delivered: std::cell::Cell<u64>,
    threads: Vec<JoinHandle<()>>,
    stats: Arc<PipelineStats>,
    capacities: (usize, usize),
    decoded: Receiver<Produced>,
}

impl DataPipeline {
    /// Starts the sampler, `workers` decode threads and the assembler on the topology's channels.
    pub fn start(context: WorkerContext, plan: DataPlan, workers: usize, channels: DataChannels) -> Self {
        let DataChannels {
            jobs: (jobs_tx, jobs_rx),
            decoded: (produced_tx, produced_rx),
            batches: (batches_tx, batches_rx),
            credits: (credits_tx, credits_rx),
            stop: (stop_tx, stop),
            exited: (exited_tx, exited_rx),
        } = channels;
        let capacities = (produced_rx.capacity().unwrap_or(usize::MAX), batches_rx.capacity().unwrap_or(usize::MAX));
        let stats = Arc::new(PipelineStats::new(workers));
        let samples = context.source.len();
        let context = Arc::new(context);
        let mut threads = Vec::new();
        {
            let (plan, stop) = (plan.clone(), stop.clone());
            threads.push(spawn("lgd-sampler", &exited_tx, move || sample(samples, plan, jobs_tx, &stop, credits_tx)));
        }
        for worker in 0..workers {
            let (jobs, produced, context, stats) =
                (jobs_rx.clone(), produced_tx.clone(), context.clone(), stats.clone());
            let stop = stop.clone();
            threads.push(spawn(&format!("lgd-decode-{worker}"), &exited_tx, move || {
                let mut workspace = Workspace::default();
                while let Some(job) = receive_unless_stopped(&jobs, &stop) {
                    stats.begin(worker, job.index);
                    // A panic while producing one sample becomes that sample's error: the run then
                    // stops cleanly instead of waiting forever for a slot that never fills.
                    let result =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| context.produce(job, &mut workspace)));
                    let item = result.unwrap_or_else(|panic| {
                        let message = crate::actor_error::panic_message(panic.as_ref());
                        Produced {
                            job,
                            pixels: Err(crate::decode_worker::NoSample::Panicked(message)),
                            label: 0,
                            bad: Vec::new(),
                        }
                    });
                    stats.end(worker);
                    if !send_unless_stopped(&produced, item, &stop) {
                        return;
                    }
                }
            }));
        }
        drop((jobs_rx, produced_tx));
        let per_epoch = steps_per_epoch(samples, plan.batch * plan.shard.count);
        let completed = Arc::new(AtomicBool::new(false));
        let decoded = produced_rx.clone();
        {
            let (completed, stop) = (completed.clone(), stop.clone());
            threads.push(spawn("lgd-assembler", &exited_tx, move || {
                assemble(plan, per_epoch, produced_rx, batches_tx, &stop, &completed, credits_rx)
            }));
        }
        Self {
            batches: Some(batches_rx),
            stop: Some(stop_tx),
            exited: exited_rx,
            completed,
            delivered: std::cell::Cell::new(0),
            threads,
            stats,
            capacities,
            decoded,
        }
    }

    /// The next batch in order; `None` once the planned epochs are done, an error if a stage died.
    pub fn next(&self) -> Option<Delivery> {
        match self.next_within(None) {
            Next::Batch(item) => Some(item),
            Next::Done => None,
            Next::TimedOut => unreachable!("no timeout was given"),
        }
    }

    /// The next batch, waiting at most `timeout` of running time (forever when `None`).
    pub fn next_within(&self, timeout: Option<Duration>) -> Next {
        let Some(batches) = self.batches.as_ref() else { return Next::Done };
        let received = match timeout {
            Some(timeout) => recv_within_running_time(batches, timeout).map_err(|e| e.is_timeout()),
            None => batches.recv().map_err(|_| false),
        };
        match received {
            Ok(item) => {
                self.delivered.set(self.delivered.get() + 1);
                Next::Batch(item)
            }
            Err(true) => Next::TimedOut,
            Err(false) if self.completed.load(Ordering::SeqCst) => Next::Done,
            Err(false) => Next::Batch(Err(PipelineError::StoppedEarly { delivered: self.delivered.get() })),
        }
    }

    /// Batches ready and waiting (a queue-depth metric).
    pub fn ready(&self) -> usize {
        self.batches.as_ref().map_or(0, |b| b.len())
    }

    /// Decoded samples waiting for batch assembly.
    pub fn decoded_waiting(&self) -> usize {
        self.decoded.len()
    }

    /// Capacities of the (decoded samples, host batches) channels.
    pub fn capacities(&self) -> (usize, usize) {
        self.capacities
    }

    /// Worker utilisation and the samples in hand.
    pub fn stats(&self) -> &PipelineStats {
        &self.stats
    }

    /// Stops producing and joins every thread (work in flight is dropped, not interrupted). A
    /// thread still running after `grace` (a worker blocked in a read that never returns) is left
    /// behind rather than hanging the shutdown; returns how many were left.
    pub fn shutdown_within(mut self, grace: Duration) -> usize {
        drop(self.stop.take());
        drop(self.batches.take());
        // Every thread holds a sender of `exited` until it returns: the channel closes when the last one does.
        // Closed: every body has returned, and a join waits only for the thread's last instructions.
        let all_ended = match Instant::now().checked_add(grace) {
            Some(deadline) => matches!(self.exited.recv_deadline(deadline), Err(RecvTimeoutError::Disconnected)),
            None => self.exited.recv().is_err(),
        };
        let (finished, stuck): (Vec<_>, Vec<_>) = self.threads.drain(..).partition(|t| all_ended || t.is_finished());
        for thread in finished {
            let _ = thread.join();
        }
        stuck.len()
    }

    /// [`shutdown_within`](Self::shutdown_within) with no limit: every thread is joined.
    pub fn shutdown(self) {
        self.shutdown_within(Duration::MAX);
    }
}

/// Starts a pipeline thread holding a sender of `exited` until `body` returns (or unwinds).
fn spawn(name: &str, exited: &Sender<Never>, body: impl FnOnce() + Send + 'static) -> JoinHandle<()> {
    let exited = exited.clone();
    let run = move || {
        let _exited = exited;
        body()
    };
    std::thread::Builder::new().name(name.into()).spawn(run).expect("spawning a pipeline thread")
}

//! The data half of the topology: sampler → decode/augment workers → batch assembler → trainer.
//! `DataPipeline::start` creates every channel (capacities from `[pipeline]`) and hands each stage
//! only its ends. Full channels block the stage before them, so a slow trainer back-pressures the
//! decoders and memory stays bounded by the capacities. Dropping the batch receiver (shutdown)
//! closes the chain stage by stage; every thread is joined, none is killed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Receiver, Sender};

use crate::decode_worker::{Job, Produced, WorkerContext};
use crate::pipeline_config::PipelineConfig;
use crate::sampler::{epoch_order, steps_per_epoch};

/// A batch ready for the device: `[B, 3, S, S]` normalised floats, in epoch order.
#[derive(Debug)]
pub struct HostBatch {
    /// Epoch.
    pub epoch: u64,
    /// Index of the batch in its epoch.
    pub step_in_epoch: u64,
    /// Pixels, batch-major CHW.
    pub pixels: Vec<f32>,
    /// Labels.
    pub labels: Vec<u32>,
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
    /// No sample could be produced for a slot (every replacement failed too).
    #[error("epoch {epoch}, batch {batch}: {message}")]
    Unfillable {
        /// Epoch.
        epoch: u64,
        /// Batch in that epoch.
        batch: u64,
        /// Why.
        message: String,
    },
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
}

/// The running data pipeline.
pub struct DataPipeline {
    batches: Option<Receiver<Result<HostBatch, PipelineError>>>,
    stop: Arc<AtomicBool>,
    /// Set by the assembler once the last planned batch is sent: a closed channel without it
    /// means a stage died, which must not pass for the end of training.
    completed: Arc<AtomicBool>,
    delivered: std::cell::Cell<u64>,
    threads: Vec<JoinHandle<()>>,
}

impl DataPipeline {
    /// Starts the sampler, `workers` decode threads and the assembler.
    pub fn start(context: WorkerContext, plan: DataPlan, sizing: &PipelineConfig) -> Self {
        // Every channel of the data pipeline, in one place.
        let (jobs_tx, jobs_rx) = bounded::<Job>(sizing.decoded_samples);
        let (produced_tx, produced_rx) = bounded::<Produced>(sizing.decoded_samples);
        let (batches_tx, batches_rx) = bounded::<Result<HostBatch, PipelineError>>(sizing.host_batches);

        let stop = Arc::new(AtomicBool::new(false));
        let samples = context.source.len();
        let context = Arc::new(context);
        let mut threads = Vec::new();
        {
            let (plan, stop) = (plan.clone(), stop.clone());
            threads.push(spawn("lgd-sampler", move || sample(samples, plan, jobs_tx, stop)));
        }
        for worker in 0..sizing.resolved_decode_workers() {
            let (jobs, produced, context) = (jobs_rx.clone(), produced_tx.clone(), context.clone());
            threads.push(spawn(&format!("lgd-decode-{worker}"), move || {
                for job in jobs {
                    // A panic while producing one sample becomes that sample's error: the run then
                    // stops cleanly instead of waiting forever for a slot that never fills.
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| context.produce(job)));
                    let item = result.unwrap_or_else(|panic| {
                        let message = panic
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "unknown panic".into());
                        Produced { job, pixels: Err(format!("decode worker panicked: {message}")), label: 0, bad: Vec::new() }
                    });
                    if produced.send(item).is_err() {
                        return;
                    }
                }
            }));
        }
        drop((jobs_rx, produced_tx));
        let per_epoch = steps_per_epoch(samples, plan.batch);
        let completed = Arc::new(AtomicBool::new(false));
        {
            let completed = completed.clone();
            threads.push(spawn("lgd-assembler", move || {
                if assemble(plan, per_epoch, produced_rx, batches_tx) {
                    completed.store(true, Ordering::SeqCst);
                }
            }));
        }
        Self { batches: Some(batches_rx), stop, completed, delivered: std::cell::Cell::new(0), threads }
    }

    /// The next batch in order; `None` once the planned epochs are done, an error if a stage died.
    pub fn next(&self) -> Option<Result<HostBatch, PipelineError>> {
        match self.batches.as_ref()?.recv() {
            Ok(item) => {
                self.delivered.set(self.delivered.get() + 1);
                Some(item)
            }
            Err(_) if self.completed.load(Ordering::SeqCst) => None,
            Err(_) => Some(Err(PipelineError::StoppedEarly { delivered: self.delivered.get() })),
        }
    }

    /// Batches ready and waiting (a queue-depth metric).
    pub fn ready(&self) -> usize {
        self.batches.as_ref().map_or(0, |b| b.len())
    }

    /// Stops producing and joins every thread (work in flight is dropped, not interrupted).
    pub fn shutdown(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        drop(self.batches.take());
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn spawn(name: &str, body: impl FnOnce() + Send + 'static) -> JoinHandle<()> {
    std::thread::Builder::new().name(name.into()).spawn(body).expect("spawning a pipeline thread")
}

fn sample(samples: usize, plan: DataPlan, jobs: Sender<Job>, stop: Arc<AtomicBool>) {
    let steps = steps_per_epoch(samples, plan.batch) as usize;
    for epoch in plan.start_epoch..plan.epochs {
        let order = epoch_order(samples, plan.seed, epoch);
        let first = if epoch == plan.start_epoch { plan.start_step as usize * plan.batch } else { 0 };
        for position in first..steps * plan.batch {
            if stop.load(Ordering::SeqCst) || jobs.send(Job { epoch, position, index: order[position] }).is_err() {
                return;
            }
        }
    }
}

struct Partial {
    pixels: Vec<f32>,
    labels: Vec<u32>,
    filled: usize,
    bad: Vec<(PathBuf, String)>,
}

/// Returns true when every planned batch was sent.
fn assemble(
    plan: DataPlan,
    per_epoch: u64,
    produced: Receiver<Produced>,
    batches: Sender<Result<HostBatch, PipelineError>>,
) -> bool {
    let planned = (plan.epochs.saturating_sub(plan.start_epoch) * per_epoch).saturating_sub(plan.start_step);
    let mut sent = 0u64;
    let sample_len = 3 * plan.image_size * plan.image_size;
    let mut partial: BTreeMap<(u64, u64), Partial> = BTreeMap::new();
    let mut next = (plan.start_epoch, plan.start_step);
    for item in produced {
        let key = (item.job.epoch, (item.job.position / plan.batch) as u64);
        let slot = item.job.position % plan.batch;
        let entry = partial.entry(key).or_insert_with(|| Partial {
            pixels: vec![0.0; plan.batch * sample_len],
            labels: vec![0; plan.batch],
            filled: 0,
            bad: Vec::new(),
        });
        entry.bad.extend(item.bad);
        match item.pixels {
            Ok(pixels) => entry.pixels[slot * sample_len..(slot + 1) * sample_len].copy_from_slice(&pixels),
            Err(message) => {
                let _ = batches.send(Err(PipelineError::Unfillable { epoch: key.0, batch: key.1, message }));
                return false;
            }
        }
        entry.labels[slot] = item.label;
        entry.filled += 1;
        while partial.get(&next).is_some_and(|p| p.filled == plan.batch) {
            let done = partial.remove(&next).expect("checked above");
            let batch = HostBatch { epoch: next.0, step_in_epoch: next.1, pixels: done.pixels, labels: done.labels, bad: done.bad };
            if batches.send(Ok(batch)).is_err() {
                return false;
            }
            sent += 1;
            next = if next.1 + 1 == per_epoch { (next.0 + 1, 0) } else { (next.0, next.1 + 1) };
        }
    }
    sent == planned
}

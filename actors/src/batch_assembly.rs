//! Batch assembly, the data pipeline's last actor: it takes decoded samples in whatever order the
//! workers finish them, writes each into its batch's buffer (the plan's `BatchMemory`: in `lgd
//! train` a tensor, page-locked for a GPU) and hands the batches on strictly in order.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{Receiver, Sender};

use crate::batch_pixels::BatchPixels;
use crate::data_pipeline::{DataPlan, Delivery, HostBatch, PipelineError};
use crate::decode_worker::Produced;
use crate::stop_channel::{receive_unless_stopped, send_unless_stopped, Never};

/// A batch some of whose samples have arrived.
struct Partial {
    pixels: BatchPixels,
    labels: Vec<u32>,
    indices: Vec<usize>,
    filled: usize,
    bad: Vec<(PathBuf, String)>,
}

/// Sets `completed` once every planned batch was sent — before the channel closes, so that the
/// receiver never mistakes the end of training for a dead stage.
pub(crate) fn assemble(
    plan: DataPlan,
    per_epoch: u64,
    produced: Receiver<Produced>,
    batches: Sender<Delivery>,
    stop: &Receiver<Never>,
    completed: &AtomicBool,
    credits: Receiver<()>,
) {
    let planned = (plan.epochs.saturating_sub(plan.start_epoch) * per_epoch).saturating_sub(plan.start_step);
    let mut sent = 0u64;
    let sample_len = 3 * plan.image_size * plan.image_size;
    let mut partial: BTreeMap<(u64, u64), Partial> = BTreeMap::new();
    let mut next = (plan.start_epoch, plan.start_step);
    if planned == 0 {
        completed.store(true, Ordering::SeqCst);
        return;
    }
    while let Some(item) = receive_unless_stopped(&produced, stop) {
        let key = (item.job.epoch, (item.job.position / plan.batch) as u64);
        let slot = item.job.position % plan.batch;
        let pixels = match item.pixels {
            Ok(pixels) => pixels,
            Err(no_sample) => {
                send_unless_stopped(
                    &batches,
                    Err(PipelineError::Unfillable { epoch: key.0, batch: key.1, cause: Box::new(no_sample.into()) }),
                    stop,
                );
                return;
            }
        };
        let entry = match partial.entry(key) {
            std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::btree_map::Entry::Vacant(slot) => {
                match BatchPixels::shaped_like(&pixels, plan.batch, sample_len, plan.memory.as_ref()) {
                    Ok(batch_pixels) => slot.insert(Partial {
                        pixels: batch_pixels,
                        labels: vec![0; plan.batch],
                        indices: vec![0; plan.batch],
                        filled: 0,
                        bad: Vec::new(),
                    }),
                    Err(error) => {
                        send_unless_stopped(
                            &batches,
                            Err(PipelineError::Unfillable {
                                epoch: key.0,
                                batch: key.1,
                                cause: Box::new(error.into()),
                            }),
                            stop,
                        );
                        return;
                    }
                }
            }
        };
        entry.bad.extend(item.bad);
        entry.pixels.put(slot, pixels);
        entry.labels[slot] = item.label;
        entry.indices[slot] = item.job.index;
        entry.filled += 1;
        while partial.get(&next).is_some_and(|p| p.filled == plan.batch) {
            let done = partial.remove(&next).expect("checked above");
            let batch = HostBatch {
                epoch: next.0,
                step_in_epoch: next.1,
                pixels: done.pixels,
                labels: done.labels,
                indices: done.indices,
                bad: done.bad,
            };
            if !send_unless_stopped(&batches, Ok(batch), stop) {
                return;
            }
            sent += 1;
            let _ = credits.try_recv(); // the sampler's credit for this batch, sent before its jobs
            if sent == planned {
                completed.store(true, Ordering::SeqCst);
                return;
            }
            next = if next.1 + 1 == per_epoch { (next.0 + 1, 0) } else { (next.0, next.1 + 1) };
        }
    }
}

//! Which samples an epoch visits, in which order: a permutation seeded by (run seed, epoch), so
//! any epoch's order can be recomputed on resume, cut into full batches (the last partial batch is
//! dropped, as the original's DataLoader does with drop_last).

use crossbeam_channel::{Receiver, Sender};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data_pipeline::DataPlan;
use crate::decode_worker::Job;
use crate::stop_channel::{send_unless_stopped, Never};

/// The order of one epoch.
pub fn epoch_order(samples: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..samples).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_0000_0000_0000);
    rng.set_stream(epoch);
    order.shuffle(&mut rng);
    order
}

/// Which part of every global batch this replica takes: replica `rank` of `count` takes the
/// `rank`-th slice of `batch` samples out of each run of `count · batch` in the epoch's order, so
/// the replicas together see exactly what one process with the global batch would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This replica, 0..count.
    pub rank: usize,
    /// Replicas in the group.
    pub count: usize,
}

impl Shard {
    /// A single process: the whole of every batch.
    pub const WHOLE: Shard = Shard { rank: 0, count: 1 };

    /// Position in the epoch's order of this replica's `position`-th sample (batches of `batch`).
    pub fn global_position(&self, position: usize, batch: usize) -> usize {
        (position / batch) * batch * self.count + self.rank * batch + position % batch
    }
}

/// Full batches per epoch.
pub fn steps_per_epoch(samples: usize, batch: usize) -> u64 {
    (samples / batch.max(1)) as u64
}

/// The sampler actor: every planned sample's job, in order, one credit per batch before its
/// first job (the assembler returns it), so it stays within the credit window of the assembler.
pub(crate) fn sample(samples: usize, plan: DataPlan, jobs: Sender<Job>, stop: &Receiver<Never>, credits: Sender<()>) {
    let steps = steps_per_epoch(samples, plan.batch * plan.shard.count) as usize;
    for epoch in plan.start_epoch..plan.epochs {
        let order = epoch_order(samples, plan.seed, epoch);
        let first = if epoch == plan.start_epoch { plan.start_step as usize * plan.batch } else { 0 };
        for position in first..steps * plan.batch {
            // A batch's credit before its first job: blocks while `window` batches are unassembled.
            if position % plan.batch == 0 && !send_unless_stopped(&credits, (), stop) {
                return;
            }
            if !send_unless_stopped(
                &jobs,
                Job { epoch, position, index: order[plan.shard.global_position(position, plan.batch)] },
                stop,
            ) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_permutations_stable_per_epoch_and_differ_across_epochs() {
        let a = epoch_order(100, 3, 0);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_eq!(a, epoch_order(100, 3, 0));
        assert_ne!(a, epoch_order(100, 3, 1));
        assert_ne!(a, epoch_order(100, 4, 0));
        assert_eq!(steps_per_epoch(100, 32), 3);
    }

    #[test]
    fn shards_partition_each_global_batch_in_rank_order() {
        let (batch, count) = (3, 2);
        let shards = [Shard { rank: 0, count }, Shard { rank: 1, count }];
        // Global batch k is positions 6k..6k+6: rank 0 takes the first 3, rank 1 the next 3.
        for step in 0..4 {
            let together: Vec<usize> = shards
                .iter()
                .flat_map(|s| (0..batch).map(move |i| s.global_position(step * batch + i, batch)))
                .collect();
            let expected: Vec<usize> = (step * 6..step * 6 + 6).collect();
            assert_eq!(together, expected);
        }
        assert_eq!(Shard::WHOLE.global_position(7, 4), 7);
    }
}

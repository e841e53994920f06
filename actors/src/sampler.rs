//! Which samples an epoch visits, in which order: a permutation seeded by (run seed, epoch), so
//! any epoch's order can be recomputed on resume, cut into full batches (the last partial batch is
//! dropped, as the original's DataLoader does with drop_last).

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The order of one epoch.
pub fn epoch_order(samples: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..samples).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_0000_0000_0000);
    rng.set_stream(epoch);
    order.shuffle(&mut rng);
    order
}

/// Full batches per epoch.
pub fn steps_per_epoch(samples: usize, batch: usize) -> u64 {
    (samples / batch.max(1)) as u64
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
}

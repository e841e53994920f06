//! The non-finite loss guard: each NaN/inf loss skips its step (the trainer leaves weights,
//! momentum and banks untouched, deciding on the device); a streak of them stops the run with a
//! checkpoint rewound to before the streak's first step, so a resume retries from the last state
//! known to be good.
//!
//! Each step's verdict is a bool on the device. The guard keeps them unread and reads them all in
//! one go when settled (at each log interval, at the end, or after [`MAX_UNREAD`] steps), so no
//! step waits for the GPU. A streak is judged where it stands when settled: one that reached the
//! limit but ended before the read is reported step by step and the run goes on, since the
//! finite steps after it were applied and there is nothing to rewind to.

use tch::{Device, Tensor};

use crate::checkpoint::TrainingState;
use crate::train::Position;

/// Verdicts kept unread before the guard asks to be settled.
pub(super) const MAX_UNREAD: usize = 256;

/// Counts consecutive non-finite steps.
#[derive(Debug, Default)]
pub(super) struct NonFiniteGuard {
    streak: u32,
    /// The position before the streak's first bad step.
    before_streak: Option<Position>,
    /// Steps taken and not yet read: where each started and its verdict (bool scalar).
    unread: Vec<(Position, Tensor)>,
    /// Non-finite steps over the whole run (as far as read).
    pub total: u64,
}

impl NonFiniteGuard {
    /// Keeps the verdict of a step taken from position `before` (`nonfinite`: a bool scalar on the
    /// device); returns whether enough are kept that they should be settled now.
    pub(super) fn keep(&mut self, before: Position, nonfinite: Tensor) -> bool {
        self.unread.push((before, nonfinite));
        self.unread.len() >= MAX_UNREAD
    }

    /// Reads every kept verdict (one read-back) and records them in order; returns each
    /// non-finite step (as logged, from 1) with the streak it made.
    pub(super) fn settle(&mut self) -> Vec<(u64, u32)> {
        if self.unread.is_empty() {
            return Vec::new();
        }
        let (positions, flags): (Vec<Position>, Vec<Tensor>) = std::mem::take(&mut self.unread).into_iter().unzip();
        let flags = Vec::<bool>::try_from(&Tensor::stack(&flags, 0).to_device(Device::Cpu)).expect("bool verdicts");
        let mut bad = Vec::new();
        for (before, nonfinite) in positions.into_iter().zip(flags) {
            let streak = self.record(before, nonfinite);
            if nonfinite {
                bad.push((before.next_step(), streak));
            }
        }
        bad
    }

    /// Records a step taken from position `before`; returns the streak length.
    fn record(&mut self, before: Position, nonfinite: bool) -> u32 {
        if nonfinite {
            self.total += 1;
            self.streak += 1;
            self.before_streak.get_or_insert(before);
        } else {
            self.streak = 0;
            self.before_streak = None;
        }
        self.streak
    }

    /// The current streak, as far as read.
    pub(super) fn streak(&self) -> u32 {
        self.streak
    }

    /// The first step (as logged, from 1) of the current streak.
    pub(super) fn first_bad_step(&self) -> Option<u64> {
        self.before_streak.map(|before| before.next_step())
    }

    /// `state` with its position moved back to before the streak. Nothing else needs rewinding:
    /// non-finite steps change nothing but the position.
    pub(super) fn rewind(&self, mut state: TrainingState) -> TrainingState {
        if let Some(Position { step, epoch, step_in_epoch }) = self.before_streak {
            (state.step, state.epoch, state.step_in_epoch) = (step, epoch, step_in_epoch);
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(step: u64, epoch: u64, step_in_epoch: u64) -> Position {
        Position { step, epoch, step_in_epoch }
    }

    #[test]
    fn a_finite_step_ends_the_streak() {
        let mut guard = NonFiniteGuard::default();
        assert_eq!(guard.record(at(4, 0, 4), true), 1);
        assert_eq!(guard.record(at(5, 0, 5), true), 2);
        assert_eq!(guard.first_bad_step(), Some(5));
        assert_eq!(guard.record(at(6, 0, 6), false), 0);
        assert_eq!(guard.first_bad_step(), None);
        assert_eq!(guard.record(at(7, 1, 0), true), 1);
        assert_eq!(guard.first_bad_step(), Some(8));
        assert_eq!(guard.total, 3);
    }

    #[test]
    fn verdicts_are_read_when_settled_in_the_order_kept() {
        let mut guard = NonFiniteGuard::default();
        for (step, bad) in [(0, false), (1, true), (2, true), (3, false), (4, true), (5, true)] {
            assert!(!guard.keep(at(step, 0, step), Tensor::from(bad)));
        }
        assert_eq!(guard.total, 0, "nothing is read before settling");
        assert_eq!(guard.settle(), vec![(2, 1), (3, 2), (5, 1), (6, 2)]);
        assert_eq!((guard.total, guard.streak(), guard.first_bad_step()), (4, 2, Some(5)));
        assert!(guard.settle().is_empty(), "each verdict is read once");
        let due = (0..MAX_UNREAD as u64)
            .map(|step| guard.keep(at(6 + step, 0, 6 + step), Tensor::from(false)))
            .collect::<Vec<_>>();
        assert_eq!(due.iter().filter(|d| **d).count(), 1, "settling is asked for once the guard holds {MAX_UNREAD}");
        assert!(*due.last().unwrap());
    }
}

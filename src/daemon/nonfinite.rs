//! The non-finite loss guard: each NaN/inf loss skips its step (the trainer leaves weights,
//! momentum and banks untouched); a streak of them stops the run with a checkpoint rewound to
//! before the streak's first step, so a resume retries from the last state known to be good.

use crate::checkpoint::TrainingState;

/// Counts consecutive non-finite steps.
#[derive(Debug, Default)]
pub(super) struct NonFiniteGuard {
    streak: u32,
    /// (step, epoch, step in epoch) before the streak's first bad step.
    before_streak: Option<(u64, u64, u64)>,
    /// Non-finite steps over the whole run.
    pub total: u64,
}

impl NonFiniteGuard {
    /// Records a step taken from position `before`; returns the streak length.
    pub(super) fn record(&mut self, before: (u64, u64, u64), nonfinite: bool) -> u32 {
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

    /// The first step (as logged, from 1) of the current streak.
    pub(super) fn first_bad_step(&self) -> Option<u64> {
        self.before_streak.map(|(step, _, _)| step + 1)
    }

    /// `state` with its position moved back to before the streak. Nothing else needs rewinding:
    /// non-finite steps change nothing but the position.
    pub(super) fn rewind(&self, mut state: TrainingState) -> TrainingState {
        if let Some((step, epoch, step_in_epoch)) = self.before_streak {
            (state.step, state.epoch, state.step_in_epoch) = (step, epoch, step_in_epoch);
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finite_step_ends_the_streak() {
        let mut guard = NonFiniteGuard::default();
        assert_eq!(guard.record((4, 0, 4), true), 1);
        assert_eq!(guard.record((5, 0, 5), true), 2);
        assert_eq!(guard.first_bad_step(), Some(5));
        assert_eq!(guard.record((6, 0, 6), false), 0);
        assert_eq!(guard.first_bad_step(), None);
        assert_eq!(guard.record((7, 1, 0), true), 1);
        assert_eq!(guard.first_bad_step(), Some(8));
        assert_eq!(guard.total, 3);
    }
}

//! The guards that end a run early, as `Session` methods: a data pipeline that stopped delivering
//! (`guards.stall_timeout_s`) and a streak of non-finite losses (`guards.max_consecutive_nonfinite`).

use std::time::Duration;

use super::{Ending, Session};
use crate::daemon::DaemonError;

impl Session<'_> {
    /// The error that ends a run whose pipeline delivered nothing for `waited`, naming the worker
    /// and the file it is stuck on.
    pub(super) fn stalled(&mut self, waited: Duration) -> DaemonError {
        let culprit = match self.data.stats().longest_busy() {
            Some(busy) => format!(
                "decode worker lgd-decode-{} has been on {} for {:.1} s",
                busy.worker,
                self.source.describe(busy.index).display(),
                busy.for_time.as_secs_f64()
            ),
            None => "no decode worker is busy (the sampler or the assembler is stuck)".to_owned(),
        };
        DaemonError::DataStalled { waited, culprit }
    }

    /// Reads the non-finite verdicts kept since the last read, warns of each skipped step, and
    /// returns the streak when it stands at `guards.max_consecutive_nonfinite` or more.
    pub(super) fn settle_verdicts(&mut self) -> Option<u32> {
        for (step, streak) in self.nonfinite.settle() {
            tracing::warn!(step, streak, "non-finite loss: step skipped (weights, momentum and banks unchanged)");
        }
        let (limit, streak) = (self.config.guards.max_consecutive_nonfinite, self.nonfinite.streak());
        (limit > 0 && streak >= limit).then_some(streak)
    }

    /// `ending`, unless the verdicts not yet read show a streak that stops the run.
    pub(super) fn settled_ending(&mut self, ending: Ending) -> Result<Ending, DaemonError> {
        match self.settle_verdicts() {
            Some(streak) => self.stop_nonfinite(streak),
            None => Ok(ending),
        }
    }

    /// Ends a run after `streak` non-finite losses in a row: a checkpoint rewound to before the
    /// streak, and the step checkpoints taken during it removed.
    pub(super) fn stop_nonfinite(&mut self, streak: u32) -> Result<Ending, DaemonError> {
        let first = self.nonfinite.first_bad_step().unwrap_or(self.student.step_count());
        let state = self.student.call(|trainer| trainer.state())??;
        let state = self.nonfinite.rewind(state);
        let rewound_to = state.step;
        if self.leads {
            self.checkpoints.write_now(state, &self.config)?;
        }
        // Checkpoints taken during the streak hold the same weights at a later position; remove
        // them so that `resume = "auto"` retries from before the streak.
        for path in crate::checkpoint::list_checkpoints(self.run_dir) {
            let step = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.strip_prefix("step-"))
                .and_then(|s| s.parse::<u64>().ok());
            let rewound_saved = self.checkpoints.saved_at == Some(rewound_to);
            if rewound_saved && step.is_some_and(|step| step > rewound_to) && std::fs::remove_file(&path).is_ok() {
                tracing::info!(path = %path.display(), "removed a checkpoint taken during the non-finite streak");
            }
        }
        let path = self.checkpoints.last.clone().filter(|_| self.checkpoints.saved_at == Some(rewound_to));
        let written =
            path.map_or_else(|| "no checkpoint could be written".to_owned(), |p| format!("checkpoint {}", p.display()));
        Ok(Ending::Guarded(NonFiniteStop { streak, first, last: self.student.step_count(), written }))
    }
}

/// A run stopped by `guards.max_consecutive_nonfinite`, and what it saved.
#[derive(Debug, thiserror::Error)]
#[error(
    "{streak} consecutive non-finite losses (steps {first} to {last}, guards.max_consecutive_nonfinite); stopped with {written} from before step {first}"
)]
pub struct NonFiniteStop {
    streak: u32,
    first: u64,
    last: u64,
    /// The rewound checkpoint, or that none could be written.
    written: String,
}

//! Where training stands, as checkpoints, guards and the data pipeline name it.

/// Steps taken, the epoch in progress and steps taken in it. The data pipeline's next sample is
/// `step_in_epoch · batch_size` into the epoch's order, so this is also the place to resume from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// Steps taken since the run began (a step logged as N leaves this at N).
    pub step: u64,
    /// The epoch in progress (from 0).
    pub epoch: u64,
    /// Steps taken in that epoch.
    pub step_in_epoch: u64,
}

impl Position {
    /// The step that comes next, as logged (from 1).
    pub fn next_step(&self) -> u64 {
        self.step + 1
    }
}

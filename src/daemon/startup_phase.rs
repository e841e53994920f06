//! The phases of `lgd train`'s start-up and the safe points between them. The signal handlers are
//! installed before any of them, so a signal during start-up is a request, never the default
//! action (death): SIGTERM/SIGINT stop start-up at its next safe point (exit 0, `status.json`
//! `stopped` with the phase), SIGUSR1 and SIGHUP wait for the loop (a checkpoint at the first step
//! boundary, the config re-read before the first step). With a CLIP teacher and an ImageNet text
//! bank start-up takes minutes, which is why the long phases have safe points inside them too.

use std::cell::Cell;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::signals::Signals;
use super::status::StatusBoard;
use super::{DaemonError, StartupError};

/// A phase of start-up, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartupPhase {
    /// Checking the inputs the config names and listing the training data.
    OpeningData,
    /// Listing the validation split.
    ValidationSet,
    /// Choosing the checkpoint to resume and checking it against this start.
    CheckingCheckpoint,
    /// Reading the teacher's weights (the safe point inside it: the weights are read).
    LoadingTeacher,
    /// Embedding the prompts of the text bank (safe points between batches of prompts).
    ComputingTextBank,
    /// Building the student and restoring the checkpoint.
    BuildingTrainer,
    /// Meeting the other ranks (data-parallel runs).
    JoiningGroup,
    /// Starting the data pipeline, the device stage and the student stage.
    StartingStages,
}

impl StartupPhase {
    /// Whether the fault-injection hold of this phase is at its start (else at its inner safe point).
    fn holds_at_start(self) -> bool {
        !matches!(self, Self::LoadingTeacher | Self::ComputingTextBank)
    }
}

impl fmt::Display for StartupPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::OpeningData => "opening the training data",
            Self::ValidationSet => "opening the validation split",
            Self::CheckingCheckpoint => "checking the checkpoint to resume",
            Self::LoadingTeacher => "loading the teacher",
            Self::ComputingTextBank => "computing the text bank",
            Self::BuildingTrainer => "building the student",
            Self::JoiningGroup => "joining the process group",
            Self::StartingStages => "starting the pipeline",
        })
    }
}

/// Start-up's progress: the phase in progress (on the status board, so `lgd status` and the
/// dashboard show it) and the safe points where a stop request ends it.
pub(super) struct StartupSteps {
    signals: Signals,
    board: StatusBoard,
    /// `fault_injection.hold_startup`: held once, until a signal arrives.
    hold: Cell<Option<StartupPhase>>,
    current: Cell<Option<StartupPhase>>,
}

impl StartupSteps {
    pub(super) fn new(signals: Signals, board: StatusBoard, hold: Option<StartupPhase>) -> Self {
        Self { signals, board, hold: Cell::new(hold), current: Cell::new(None) }
    }

    /// A safe point, then `phase` begins.
    pub(super) fn enter(&self, phase: StartupPhase) -> Result<(), DaemonError> {
        self.stop_here()?;
        self.current.set(Some(phase));
        self.board.update(|s| s.startup_phase = Some(phase));
        self.board.persist();
        tracing::debug!(%phase, "start-up");
        if phase.holds_at_start() {
            self.hold_if_asked(phase)?;
        }
        Ok(())
    }

    /// A safe point inside `phase` (its fault-injection hold, if asked for, is here).
    pub(super) fn safe_point(&self, phase: StartupPhase) -> Result<(), DaemonError> {
        self.hold_if_asked(phase)?;
        self.stop_here()
    }

    /// Ends start-up if SIGTERM/SIGINT arrived.
    fn stop_here(&self) -> Result<(), DaemonError> {
        match self.current.get() {
            Some(phase) if self.signals.stop_requested() => Err(DaemonError::StoppedDuringStartup(phase)),
            _ => Ok(()),
        }
    }

    /// Test hook: start-up waits here, once, for any of the daemon's signals, so that a test can
    /// signal inside a phase that would otherwise be over before the signal lands.
    fn hold_if_asked(&self, phase: StartupPhase) -> Result<(), DaemonError> {
        if self.hold.get() != Some(phase) {
            return Ok(());
        }
        self.hold.set(None);
        let waiting = |e: std::io::Error| DaemonError::from(StartupError::HoldStartup(e));
        let mut wake = self.signals.next_signal().map_err(waiting)?;
        if self.signals.pending() {
            return Ok(()); // one arrived before the wake-up was registered
        }
        tracing::warn!(%phase, "fault injection: start-up held until a signal arrives (fault_injection.hold_startup)");
        wake.wait().map_err(waiting)
    }
}

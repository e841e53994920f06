//! OS signals as flags the training loop reads at step boundaries: SIGUSR1 asks for a checkpoint,
//! SIGTERM/SIGINT for a checkpoint and a clean exit (a second SIGINT or SIGTERM exits at once),
//! SIGHUP for a config reload. Handlers only set atomics; all work happens in the loop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};

/// What the operator asked for since the last look.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requests {
    /// Checkpoint and go on.
    pub checkpoint: bool,
    /// Checkpoint and stop.
    pub stop: bool,
    /// Reload the config file.
    pub reload: bool,
}

/// The installed handlers' flags.
#[derive(Debug, Clone)]
pub struct Signals {
    checkpoint: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    reload: Arc<AtomicBool>,
}

impl Signals {
    /// Installs the handlers for this process.
    pub fn install() -> std::io::Result<Self> {
        let signals = Self {
            checkpoint: Arc::new(AtomicBool::new(false)),
            stop: Arc::new(AtomicBool::new(false)),
            reload: Arc::new(AtomicBool::new(false)),
        };
        for signal in [SIGINT, SIGTERM] {
            // Registered first: if a stop is already pending, the second signal exits at once.
            signal_hook::flag::register_conditional_shutdown(signal, 130, signals.stop.clone())?;
            signal_hook::flag::register(signal, signals.stop.clone())?;
        }
        signal_hook::flag::register(SIGUSR1, signals.checkpoint.clone())?;
        signal_hook::flag::register(SIGHUP, signals.reload.clone())?;
        Ok(signals)
    }

    /// Asks for a checkpoint as SIGUSR1 does (the HTTP control endpoint uses this).
    pub fn request_checkpoint(&self) {
        self.checkpoint.store(true, Ordering::SeqCst);
    }

    /// Asks for a config reload as SIGHUP does.
    pub fn request_reload(&self) {
        self.reload.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was asked for (polled during long work such as validation).
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Takes the pending requests (stop stays set: it is not undone by looking).
    pub fn take(&self) -> Requests {
        Requests {
            checkpoint: self.checkpoint.swap(false, Ordering::SeqCst),
            stop: self.stop.load(Ordering::SeqCst),
            reload: self.reload.swap(false, Ordering::SeqCst),
        }
    }
}

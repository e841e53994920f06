//! OS signals as flags the training loop reads at step boundaries: SIGUSR1 asks for a checkpoint,
//! SIGTERM/SIGINT for a checkpoint and a clean exit (a second SIGINT or SIGTERM exits at once),
//! SIGHUP for a config reload. Handlers only set atomics; all work happens in the loop. They are
//! installed first thing in `lgd train`, so a signal during start-up is a request too: start-up
//! stops at its next safe point (`startup_phase`), and the other requests wait for the loop.

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use signal_hook::SigId;

/// Every signal the daemon acts on.
const HANDLED: [i32; 4] = [SIGINT, SIGTERM, SIGUSR1, SIGHUP];

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

    /// Whether any request is pending (without taking it).
    pub fn pending(&self) -> bool {
        [&self.checkpoint, &self.stop, &self.reload].iter().any(|flag| flag.load(Ordering::SeqCst))
    }

    /// A wake-up on the next of the daemon's signals, registered now (in addition to the flags).
    pub fn next_signal(&self) -> std::io::Result<SignalWake> {
        let (reader, writer) = UnixStream::pair()?;
        let mut ids = Vec::with_capacity(HANDLED.len());
        for signal in HANDLED {
            ids.push(signal_hook::low_level::pipe::register(signal, writer.try_clone()?)?);
        }
        Ok(SignalWake { reader, ids })
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

/// A self-pipe the handlers write a byte into: waiting on it is waiting for a signal, with no
/// polling. Dropping it unregisters its handlers (the flags' stay).
#[derive(Debug)]
pub struct SignalWake {
    reader: UnixStream,
    ids: Vec<SigId>,
}

impl SignalWake {
    /// Blocks until one of the daemon's signals arrives after `Signals::next_signal`.
    pub fn wait(&mut self) -> std::io::Result<()> {
        let mut byte = [0u8; 1];
        loop {
            match self.reader.read(&mut byte) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for SignalWake {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

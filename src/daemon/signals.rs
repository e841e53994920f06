//! OS signals as flags the training loop reads at step boundaries: SIGUSR1 asks for a checkpoint,
//! SIGTERM/SIGINT for a checkpoint and a clean exit (a second SIGINT or SIGTERM exits at once),
//! SIGHUP for a config reload; with `run.requeue`, its signal (USR1 unless `run.requeue_signal`
//! names USR2) asks for a stop to be requeued. Handlers only set atomics; all work happens in the
//! loop. They are installed first thing in `lgd train`, so a signal during start-up is a request
//! too: start-up stops at its next safe point (`startup_phase`), and the other requests wait for
//! the loop.

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
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
    /// The stop is a batch job's time-limit warning: requeue the job once it is saved.
    pub requeue: bool,
}

/// The installed handlers' flags.
#[derive(Debug, Clone)]
pub struct Signals {
    checkpoint: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    reload: Arc<AtomicBool>,
    requeue: Arc<AtomicBool>,
    /// The requeue signal once `requeue_on` set one (0 before), for `next_signal`'s wake-ups.
    requeue_signal: Arc<AtomicI32>,
}

impl Signals {
    /// Installs the handlers for this process.
    pub fn install() -> std::io::Result<Self> {
        let signals = Self {
            checkpoint: Arc::new(AtomicBool::new(false)),
            stop: Arc::new(AtomicBool::new(false)),
            reload: Arc::new(AtomicBool::new(false)),
            requeue: Arc::new(AtomicBool::new(false)),
            requeue_signal: Arc::new(AtomicI32::new(0)),
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

    /// Makes `signal` the time-limit warning (`run.requeue`): a stop to be requeued. Called once
    /// the config is read, a moment after `install`; the requeue flag is set before the stop
    /// flag, so whoever sees the stop sees why.
    pub fn requeue_on(&self, signal: i32) -> std::io::Result<()> {
        signal_hook::flag::register(signal, self.requeue.clone())?;
        signal_hook::flag::register(signal, self.stop.clone())?;
        self.requeue_signal.store(signal, Ordering::SeqCst);
        Ok(())
    }

    /// Whether a requeue was asked for (it stays set, like a stop).
    pub fn requeue_requested(&self) -> bool {
        self.requeue.load(Ordering::SeqCst)
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
        let mut ids = Vec::with_capacity(HANDLED.len() + 1);
        let requeue = Some(self.requeue_signal.load(Ordering::SeqCst)).filter(|s| *s != 0 && !HANDLED.contains(s));
        for signal in HANDLED.into_iter().chain(requeue) {
            ids.push(signal_hook::low_level::pipe::register(signal, writer.try_clone()?)?);
        }
        Ok(SignalWake { reader, ids })
    }

    /// Takes the pending requests (stop and requeue stay set: they are not undone by looking).
    pub fn take(&self) -> Requests {
        let stop = self.stop.load(Ordering::SeqCst); // before requeue, which its handler sets first
        Requests {
            checkpoint: self.checkpoint.swap(false, Ordering::SeqCst),
            stop,
            reload: self.reload.swap(false, Ordering::SeqCst),
            requeue: self.requeue.load(Ordering::SeqCst),
        }
    }

    /// Another rank's requeue, agreed at a step boundary, made this process's too.
    pub fn agree_requeue(&self) {
        self.requeue.store(true, Ordering::SeqCst);
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

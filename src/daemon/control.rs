//! What the loop is asked at a step boundary: a stop (SIGTERM/SIGINT, or the requeue signal), a
//! checkpoint (SIGUSR1), a reload (SIGHUP, or the config file changed on disk under
//! `run.watch_config`) — the status server's POSTs raise the same flags. In a replica, what any
//! rank was asked every rank does, at the same boundary. A checkpoint asked for before the first
//! step has nothing new to save: it waits for the first step boundary.

use std::path::Path;

use super::config_watch::ConfigWatch;
use super::signals::Signals;
use super::student_stage::StudentStage;
use super::DaemonError;

/// The signals, the config file's watch and a checkpoint waiting for the first step.
pub(super) struct Control<'a> {
    signals: Signals,
    watch: Option<ConfigWatch>,
    config_path: &'a Path,
    deferred_checkpoint: bool,
}

/// What to do at this boundary.
pub(super) struct Asked {
    pub stop: bool,
    pub checkpoint: bool,
    pub reload: bool,
}

impl<'a> Control<'a> {
    /// The loop's control, watching `config_path` when `run.watch_config` is on.
    pub(super) fn new(signals: Signals, config_path: &'a Path, watch_config: bool) -> Self {
        let watch = watch_config.then(|| ConfigWatch::new(config_path));
        Self { signals, watch, config_path, deferred_checkpoint: false }
    }

    /// What was asked since the last boundary; `first_step_taken`: whether this process has
    /// stepped since it started (else a checkpoint waits).
    pub(super) fn at_boundary(&mut self, student: &StudentStage, first_step_taken: bool) -> Result<Asked, DaemonError> {
        let mut requests = self.signals.take();
        let file_changed = self.watch.as_mut().is_some_and(|w| w.changed());
        if file_changed {
            tracing::info!(file = %self.config_path.display(), "config file changed on disk (run.watch_config)");
        }
        requests.reload |= file_changed;
        if student.is_replica() {
            let asked = [requests.stop, requests.checkpoint, requests.reload, requests.requeue];
            let agreed = student
                .call(move |trainer| trainer.data_parallel().map(|group| group.any_of(&asked)))?
                .expect("a replica has its group")?;
            (requests.stop, requests.checkpoint, requests.reload) = (agreed[0], agreed[1], agreed[2]);
            if agreed[3] && !requests.requeue {
                self.signals.agree_requeue(); // another rank got the time-limit warning
            }
        }
        if requests.checkpoint && !first_step_taken && !self.deferred_checkpoint {
            tracing::info!("checkpoint asked for before the first step: it is written at the first step boundary");
        }
        self.deferred_checkpoint |= requests.checkpoint && !first_step_taken;
        let checkpoint = (requests.checkpoint || self.deferred_checkpoint) && first_step_taken;
        self.deferred_checkpoint &= !first_step_taken;
        Ok(Asked { stop: requests.stop, checkpoint, reload: requests.reload })
    }

    /// The config file the run was started with (a reload reads it again).
    pub(super) fn config_path(&self) -> &'a Path {
        self.config_path
    }

    /// The signal flags (validation stops early on a stop request).
    pub(super) fn signals(&self) -> &Signals {
        &self.signals
    }
}

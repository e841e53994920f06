//! The terminal progress bar of `lgd train`: epoch, step, img/s, loss, lr and ETA on one line when
//! stderr is a terminal; nothing otherwise (structured logs carry the same facts).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar over the run's steps, hidden when stderr is not a terminal; clones draw the same bar.
#[derive(Debug, Clone)]
pub(super) struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub(super) fn new(total_steps: u64, done: u64) -> Self {
        let bar = ProgressBar::with_draw_target(Some(total_steps), ProgressDrawTarget::stderr());
        if !std::io::stderr().is_terminal() {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        let style = ProgressStyle::with_template("{prefix} {bar:30} {pos}/{len} steps  {msg}  ETA {eta}")
            .expect("a valid template");
        bar.set_style(style);
        bar.set_position(done);
        Self { bar }
    }

    /// Whether the bar is drawn (then per-step log lines step aside to debug level).
    pub(super) fn visible(&self) -> bool {
        !self.bar.is_hidden()
    }

    pub(super) fn update(&self, epoch: u64, step: u64, images_per_second: f64, loss: f64, lr: f64) {
        self.bar.set_prefix(format!("epoch {epoch}"));
        self.bar.set_position(step);
        self.bar.set_message(format!("{images_per_second:.1} img/s  loss {loss:.4}  lr {lr:.4}"));
    }

    /// Says how far a validation has come (the next step's update replaces it).
    pub(super) fn validating(&self, images: usize, of: usize) {
        self.bar.set_message(format!("validating: {images} of {of} images"));
    }

    pub(super) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

//! Download progress: an indicatif bar when stderr is a terminal; otherwise a log line every
//! few seconds, because a bar's carriage returns turn a log file or CI output into noise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How often the non-terminal form reports.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Tracks the bytes of one file.
pub(super) struct Progress {
    bar: Option<ProgressBar>,
    file: String,
    total: Option<u64>,
    done: u64,
    /// Bytes already on disk when this transfer began (a resume): not counted in the speed.
    resumed_from: u64,
    started: Instant,
    last_line: Instant,
}

impl Progress {
    /// Starts at `done` bytes of `total` (when the server said).
    pub(super) fn new(file: &str, done: u64, total: Option<u64>) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = total.map_or_else(ProgressBar::new_spinner, ProgressBar::new);
            let template = "{msg} {bar:40} {bytes}/{total_bytes} {bytes_per_sec} ({eta} left)";
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            bar.set_message(file.to_owned());
            bar.set_position(done);
            bar.reset_eta();
            bar
        });
        let now = Instant::now();
        Self { bar, file: file.to_owned(), total, done, resumed_from: done, started: now, last_line: now }
    }

    /// Counts `bytes` more.
    pub(super) fn advance(&mut self, bytes: u64) {
        self.done += bytes;
        match &self.bar {
            Some(bar) => bar.set_position(self.done),
            None if self.last_line.elapsed() >= LOG_EVERY => {
                self.last_line = Instant::now();
                tracing::info!("{}", self.line());
            }
            None => {}
        }
    }

    /// Removes the bar (the caller logs the outcome).
    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    /// `RN50.pt: 120.0 of 244.0 MiB (49%), 11.2 MiB/s`.
    fn line(&self) -> String {
        let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
        let speed = mib(self.done - self.resumed_from) / self.started.elapsed().as_secs_f64().max(1e-3);
        match self.total {
            Some(total) => format!(
                "{}: {:.1} of {:.1} MiB ({:.0}%), {speed:.1} MiB/s",
                self.file,
                mib(self.done),
                mib(total),
                100.0 * self.done as f64 / total.max(1) as f64
            ),
            None => format!("{}: {:.1} MiB, {speed:.1} MiB/s", self.file, mib(self.done)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Progress;

    #[test]
    fn log_lines_give_size_share_and_speed() {
        let mut progress = Progress::new("RN50.pt", 1024 * 1024, Some(4 * 1024 * 1024));
        progress.advance(1024 * 1024);
        progress.finish();
        let line = progress.line();
        assert!(line.starts_with("RN50.pt: 2.0 of 4.0 MiB (50%), "), "{line}");
        assert!(line.ends_with(" MiB/s"), "{line}");
        assert!(Progress::new("x.pt", 0, None).line().starts_with("x.pt: 0.0 MiB, "));
    }
}

//! A real `lgd train` process for the fault tests: a small fast config (MobileNetV2 student at
//! 32 px, the Lite0 teacher, batch 4), its log lines as a channel, signals and kills.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc::Receiver;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::support;

pub const MINUTE: Duration = Duration::from_secs(60);

/// One scene at a time: each `lgd train` uses every core, and timing-sensitive checks (a
/// SIGTERM landing inside a validation) mean nothing on an oversubscribed machine.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A scratch folder with `data/` (3 classes × `per_class` images) and a config at `run.toml`.
pub struct Scene {
    pub dir: PathBuf,
    _turn: MutexGuard<'static, ()>,
}

impl Scene {
    pub fn new(name: &str, per_class: usize) -> Self {
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let dir = support::scratch(name);
        support::write_image_folder(&dir.join("data"), &["a", "b", "c"], per_class);
        Self { dir, _turn: turn }
    }

    pub fn run_dir(&self) -> PathBuf {
        self.dir.join("run")
    }

    pub fn checkpoints(&self) -> PathBuf {
        self.run_dir().join("checkpoints")
    }

    /// Writes `run.toml`: the base config, `epochs` epochs, then `extra` TOML sections.
    pub fn configure(&self, epochs: u32, extra: &str) {
        std::fs::write(self.dir.join("run.toml"), config_text(&self.dir.join("data"), epochs, extra)).unwrap();
    }

    /// Logs (and so reads the step verdicts back) every `steps` steps instead of every step.
    pub fn log_every(&self, steps: u64) {
        let path = self.dir.join("run.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            text.replace("[logging]\nevery_steps = 1\n", &format!("[logging]\nevery_steps = {steps}\n")),
        )
        .unwrap();
    }

    pub fn start(&self) -> Daemon {
        Daemon::start(&self.dir)
    }

    /// Runs to the end; (exit status, every log line).
    pub fn run_to_end(&self) -> (ExitStatus, Vec<String>) {
        let mut daemon = self.start();
        let status = daemon.wait(Duration::from_secs(300));
        (status, daemon.drain())
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The base config; sections in `extra` must not repeat the ones here.
pub fn config_text(data: &Path, epochs: u32, extra: &str) -> String {
    format!(
        r#"[run]
seed = 7
device = "cpu"
[data]
train = "{data}"
batch_size = 4
[student]
arch = "mobilenet_v2"
[teacher]
kind = "supervised"
weights = "{weights}"
[banks]
text = "teacher_classifier"
[augmentation]
output_size = 32
[schedule]
epochs = {epochs}
warmup_epochs = 0
[precision]
autocast = "fp32"
[logging]
every_steps = 1
{extra}"#,
        data = data.display(),
        weights = support::lite0_weights().display()
    )
}

/// A running `lgd train --log-format json`.
pub struct Daemon {
    pub child: Child,
    lines: Receiver<String>,
    pub seen: Vec<String>,
}

impl Daemon {
    /// Starts `lgd train` on `dir/run.toml` with the run folder `dir/run`.
    pub fn start(dir: &Path) -> Self {
        let (child, lines) = support::daemon::spawn_train(dir);
        Self { child, lines, seen: Vec::new() }
    }

    /// Waits for a log line containing `needle`; panics with the lines seen after `timeout`.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100)) {
                self.seen.push(line.clone());
                if line.contains(needle) {
                    return line;
                }
            }
        }
        panic!("no log line with `{needle}` within {timeout:?}; saw:\n{}", self.seen.join("\n"));
    }

    /// Waits for the next `step` log line and returns its step number.
    pub fn next_step(&mut self, timeout: Duration) -> u64 {
        let line = self.wait_for("\"message\":\"step\"", timeout);
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        value["step"].as_u64().unwrap()
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill").args([&format!("-{name}"), &self.child.id().to_string()]).status().unwrap();
        assert!(status.success(), "kill -{name}");
    }

    /// Waits for the exit (killing the process after `timeout`, which fails the caller's checks).
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("lgd train did not exit within {timeout:?}; log:\n{}", self.drain().join("\n"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every log line so far (after the exit: all of them).
    pub fn drain(&mut self) -> Vec<String> {
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(300)) {
            self.seen.push(line);
        }
        self.seen.clone()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Checkpoint files (`step-*.safetensors`) of a run folder, oldest first.
pub fn checkpoint_files(run_dir: &Path) -> Vec<PathBuf> {
    lgd::checkpoint::list_checkpoints(run_dir)
}

/// Whether any log line contains every one of `needles`.
pub fn logged(lines: &[String], needles: &[&str]) -> bool {
    lines.iter().any(|line| needles.iter().all(|n| line.contains(n)))
}

/// Every log line as its JSON object; a line that is no JSON fails the test (`--log-format json`
/// promises one object per line, libtorch's warnings and panics included).
pub fn json_records(lines: &[String]) -> Vec<serde_json::Value> {
    lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("a log line that is no JSON ({e}): {line}")))
        .collect()
}

/// The steps of the JSON log's "step" lines, in order.
pub fn logged_steps(lines: &[String]) -> Vec<u64> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["message"] == "step")
        .filter_map(|v| v["step"].as_u64())
        .collect()
}

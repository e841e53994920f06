//! A real `lgd train` process on a small CPU config (supervised Lite0 teacher, ResNet-18 student
//! at 32 px, batch 4) with its JSON log lines on a channel, for the tests that watch a live run.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// The run config: data in `dir/data`, `epochs` epochs, every step logged, `extra` TOML appended.
pub fn cpu_config(dir: &Path, epochs: u32, extra: &str) -> String {
    format!(
        r#"[run]
seed = 3
device = "cpu"
[data]
train = "{data}"
batch_size = 4
[student]
arch = "resnet18"
[teacher]
kind = "supervised"
weights = "{weights}"
[banks]
text = "teacher_classifier"
[augmentation]
output_size = 32
[schedule]
epochs = {epochs}
warmup_epochs = 1
[precision]
autocast = "fp32"
[checkpoint]
every_epochs = 0
keep_last = 50
[logging]
every_steps = 1
{extra}"#,
        data = dir.join("data").display(),
        weights = super::lite0_weights().display()
    )
}

/// Runs `lgd train --config dir/run.toml --run-dir dir/run` to the end.
pub fn train_to_end(dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lgd"))
        .args(["train", "--config"])
        .arg(dir.join("run.toml"))
        .arg("--run-dir")
        .arg(dir.join("run"))
        .output()
        .unwrap()
}

/// Starts `lgd --log-format json train --config dir/run.toml --run-dir dir/run`.
pub fn spawn_train(dir: &Path) -> (Child, Receiver<String>) {
    spawn_lgd(&[], dir)
}

/// Starts `lgd --log-format json [LAUNCH…] train --config dir/run.toml --run-dir dir/run`, with
/// `launch` the words before `train` (e.g. `launch --nproc-per-node 2 --`); its log lines as they come.
pub fn spawn_lgd(launch: &[&str], dir: &Path) -> (Child, Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lgd"))
        .args(["--log-format", "json"])
        .args(launch)
        .args(["train", "--config"])
        .arg(dir.join("run.toml"))
        .arg("--run-dir")
        .arg(dir.join("run"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    (child, lines_of(stderr))
}

/// The lines of a child's output, on a channel, as they come.
pub fn lines_of(stream: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// Waits for a log line containing `needle`; panics with the lines seen after `timeout`.
pub fn wait_for(lines: &Receiver<String>, needle: &str, timeout: Duration) -> String {
    wait_for_after(lines, needle, timeout).0
}

/// Waits for a log line containing `needle`; returns it and the lines before it.
pub fn wait_for_after(lines: &Receiver<String>, needle: &str, timeout: Duration) -> (String, Vec<String>) {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) {
            if line.contains(needle) {
                return (line, seen);
            }
            seen.push(line);
        }
    }
    panic!("no log line with `{needle}` within {timeout:?}; saw:\n{}", seen.join("\n"));
}

//! The README and the guides in `docs/` run, so they cannot drift from the binary.
//!
//! Every command line of their ```` ```sh ```` blocks (comments stripped, `\` continuations joined)
//! is either run here, with bash, in a working folder laid out as the documents assume, or listed
//! below as skipped with the reason (a GPU, the network, hours). A command the documents show that
//! this file does not cover fails the test, and so does a covered one they no longer show. For a
//! command that is not run as written, each `--option` it uses must still be one that the
//! subcommand's `--help` lists. Every ```` ```toml ```` snippet, merged into the run's config, must
//! pass `lgd check-config`. ```` ```bash ```` blocks are scripts for another machine (an sbatch
//! script for a cluster): not run, but each `lgd` line's options are checked the same way.
//!
//! Reduced sizes: `weights/RN50.pt` is a random CLIP with a 64-px ResNet image tower and a two-layer
//! text tower (`tests/oracle/clip_towers_oracle.py`), `data/imagenet` holds 3 classes (8 training
//! and 4 validation images each), `--classnames imagenet` reads their 3 names instead of 1000, and
//! `my-run.toml`, copied from the published recipe as the README says, gets the edits of
//! [`REDUCED_RECIPE`]: the CPU, batch 4, 64 px, and a `[status]` server.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use snapbox::cmd::Command;

/// The documents whose commands must run: the README and every guide in `docs/`.
fn documents() -> Vec<PathBuf> {
    let root = support::root();
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    docs.insert(0, root.join("README.md"));
    docs
}

/// A fenced block of one of the documents: its language, first line number and text.
struct Block {
    file: String,
    line: usize,
    lang: String,
    text: String,
}

fn blocks() -> Vec<Block> {
    let root = support::root();
    let mut blocks = Vec::new();
    for path in documents() {
        let file = path.strip_prefix(&root).unwrap().display().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut open: Option<Block> = None;
        for (n, line) in text.lines().enumerate() {
            let fence = line.trim_start().strip_prefix("```");
            match (fence, open.take()) {
                (Some(lang), None) => {
                    open =
                        Some(Block { file: file.clone(), line: n + 2, lang: lang.trim().into(), text: String::new() })
                }
                (Some(_), Some(block)) => blocks.push(block),
                (None, Some(mut block)) => {
                    block.text.push_str(line);
                    block.text.push('\n');
                    open = Some(block);
                }
                (None, None) => {}
            }
        }
        assert!(open.is_none(), "{file}: a code fence is never closed");
    }
    blocks
}

/// The command lines of a shell block: comments cut, continuations joined, blank lines dropped.
fn command_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = strip_comment(raw);
        let line = line.trim_end();
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head.trim());
            pending.push(' ');
            continue;
        }
        pending.push_str(line.trim());
        let joined = std::mem::take(&mut pending).trim().to_owned();
        if !joined.is_empty() {
            lines.push(joined);
        }
    }
    lines
}

/// A line without its `# comment` (a `#` at the start or after a blank, outside quotes).
fn strip_comment(line: &str) -> &str {
    let (mut single, mut double) = (false, false);
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && previous.is_whitespace() => return &line[..i],
            _ => {}
        }
        previous = c;
    }
    line
}

/// Every documented command line, with the places that show it.
fn documented_commands() -> BTreeMap<String, Vec<String>> {
    let mut commands: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for block in blocks().iter().filter(|b| b.lang == "sh") {
        for line in command_lines(&block.text) {
            commands.entry(line).or_default().push(format!("{}:{}", block.file, block.line));
        }
    }
    commands
}

/// The edits that shrink the published recipe to the stand-ins (see the module comment).
const REDUCED_RECIPE: &[(&str, &str)] = &[
    ("run.device", r#""cpu""#),
    ("data.batch_size", "4"),
    ("teacher.embed_dim", "32"), // the stand-in's width
    ("banks.classnames", r#""classnames.txt""#),
    ("augmentation.output_size", "64"),
    ("augmentation.eval_resize", "64"),
    ("augmentation.eval_crop", "64"),
    ("precision.autocast", r#""fp32""#),
    ("schedule.epochs", "1000"), // long enough for the signals; stopped by SIGTERM
    ("schedule.warmup_epochs", "0"),
    ("checkpoint.every_epochs", "0"), // checkpoints come from the signals
    ("validation.every_epochs", "2"),
    ("logging.every_steps", "1"),
    ("pipeline.decode_workers", "2"),
    ("pipeline.decoded_samples", "64"),
    ("status.addr", r#""127.0.0.1:0""#),
];

/// Sets `section.field = value` (a TOML literal) in `doc`.
fn set(doc: &mut toml::Table, dotted: &str, literal: &str) {
    let (section, field) = dotted.split_once('.').unwrap();
    let value: toml::Table = toml::from_str(&format!("v = {literal}")).unwrap();
    let table = doc.entry(section).or_insert_with(|| toml::Value::Table(toml::Table::new()));
    table.as_table_mut().unwrap().insert(field.into(), value["v"].clone());
}

/// Merges `snippet` into `base`, table by table.
fn merge(base: &mut toml::Table, snippet: &toml::Table) {
    for (key, value) in snippet {
        match (base.get_mut(key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(more)) => merge(inner, more),
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

/// The working folder the documents assume, and what has run in it.
struct World {
    dir: PathBuf,
    path_env: String,
    documented: BTreeMap<String, Vec<String>>,
    covered: BTreeMap<String, String>,
    daemon: Option<(Child, Receiver<String>)>,
}

impl World {
    fn new(documented: BTreeMap<String, Vec<String>>) -> World {
        let dir = support::scratch("docs-commands");
        std::os::unix::fs::symlink(support::root().join("configs"), dir.join("configs")).unwrap();
        let out = dir.join("clip-oracle");
        std::fs::create_dir_all(&out).unwrap();
        support::run_oracle("clip_towers_oracle.py", &[&out]);
        std::fs::create_dir_all(dir.join("weights")).unwrap();
        std::fs::copy(out.join("rn.pt"), dir.join("weights/RN50.pt")).unwrap();
        let classes = ["n01440764", "n01443537", "n01484850"];
        support::write_image_folder(&dir.join("data/imagenet/train"), &classes, 8);
        support::write_image_folder(&dir.join("data/imagenet/val"), &classes, 4);
        std::fs::write(dir.join("classnames.txt"), "tench\ngoldfish\ngreat white shark\n").unwrap();
        let bin = Path::new(env!("CARGO_BIN_EXE_lgd")).parent().unwrap();
        let path_env = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
        World { dir, path_env, documented, covered: BTreeMap::new(), daemon: None }
    }

    /// The documented line with its placeholders filled in for this folder.
    fn fill(&self, line: &str) -> String {
        let mut line = line.replace("--classnames imagenet", "--classnames classnames.txt");
        if line.contains("<pid>") {
            let pid = self.daemon.as_ref().expect("a `<pid>` command needs the daemon running").0.id();
            line = line.replace("<pid>", &pid.to_string());
        }
        if line.contains("step-….safetensors") {
            line = line.replace("step-….safetensors", &self.newest_step_checkpoint());
        }
        assert!(
            !line.contains('…') && !line.contains("<") || line.contains("<<"),
            "a placeholder this test cannot fill: {line}"
        );
        line
    }

    fn newest_step_checkpoint(&self) -> String {
        let mut steps: Vec<String> = std::fs::read_dir(self.dir.join("runs/r18/checkpoints"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("step-") && n.ends_with(".safetensors"))
            .collect();
        steps.sort();
        steps.pop().expect("a step checkpoint in runs/r18/checkpoints")
    }

    fn bash(&self, script: &str) -> Command {
        Command::new("bash")
            .args(["-c", &format!("set -euo pipefail\n{script}")])
            .current_dir(&self.dir)
            .env("PATH", &self.path_env)
            .timeout(Duration::from_secs(300))
    }

    /// Records how `doc` was covered; it must be a line the documents show now.
    fn cover(&mut self, doc: &str, how: &str) {
        assert!(
            self.documented.contains_key(doc),
            "this test covers `{doc}`, which no document shows: the README or a guide changed; make the test run what they show now"
        );
        self.covered.insert(doc.to_owned(), how.to_owned());
    }

    /// Runs documented lines as written (placeholders filled), together in one shell: they must
    /// succeed. Returns stdout and stderr.
    fn run(&mut self, docs: &[&str]) -> (String, String) {
        let script: Vec<String> = docs.iter().map(|d| self.fill(d)).collect();
        let output = self.bash(&script.join("\n")).assert().success();
        for doc in docs {
            self.cover(doc, "run");
        }
        let output = output.get_output();
        (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
    }

    /// Runs `instead` for the documented `doc`: the same command at a reduced size.
    fn run_reduced(&mut self, doc: &str, instead: &str, why: &str) -> (String, String) {
        options_exist(&self.fill(doc));
        let output = self.bash(&self.fill(instead)).assert().success();
        self.cover(doc, &format!("reduced: {why}"));
        let output = output.get_output();
        (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
    }

    /// Not run; its options are still checked against `--help`.
    fn skip(&mut self, doc: &str, why: &str) {
        options_exist(doc);
        self.cover(doc, &format!("skipped: {why}"));
    }

    /// Starts a documented `lgd train` in the background, as a user's first terminal holds it.
    fn start_daemon(&mut self, doc: &str) {
        let mut child = StdCommand::new("bash")
            .args(["-c", &format!("exec {}", self.fill(doc))])
            .current_dir(&self.dir)
            .env("PATH", &self.path_env)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        self.daemon = Some((child, rx));
        self.cover(doc, "run: in the background, signalled below");
    }

    /// Waits for a line of the daemon's log containing `needle`.
    fn wait_for_log(&self, needle: &str) -> String {
        let lines = &self.daemon.as_ref().unwrap().1;
        let deadline = Instant::now() + Duration::from_secs(180);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            match lines.recv_timeout(Duration::from_millis(200)) {
                Ok(line) if line.contains(needle) => return line,
                Ok(line) => seen.push(line),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("the daemon exited before logging `{needle}`; it logged:\n{}", seen.join("\n"))
                }
            }
        }
        panic!("the daemon logged no `{needle}` within 180 s; it logged:\n{}", seen.join("\n"));
    }

    /// Rewrites one field of `my-run.toml`.
    fn edit_config(&self, dotted: &str, literal: &str) {
        let path = self.dir.join("my-run.toml");
        let mut doc: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        set(&mut doc, dotted, literal);
        std::fs::write(&path, toml::to_string(&doc).unwrap()).unwrap();
    }
}

/// A test that fails while the daemon runs must not leave it training.
impl Drop for World {
    fn drop(&mut self) {
        if let Some((child, _)) = &mut self.daemon {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Each `--option` of an `lgd` command line is listed by its subcommand's `--help` (or `lgd --help`
/// for the global ones); the rank command after `lgd launch … --` is checked the same way.
fn options_exist(line: &str) {
    let Some(start) = line.split_whitespace().position(|t| t == "lgd" || t.ends_with("/lgd")) else {
        return;
    };
    let tokens: Vec<&str> = line.split_whitespace().skip(start + 1).collect();
    let mut parts: Vec<Vec<&str>> = vec![Vec::new()];
    for token in tokens {
        if token == "--" {
            parts.push(Vec::new());
        } else {
            parts.last_mut().unwrap().push(token);
        }
    }
    let help = |words: &[&str]| -> String {
        let output = StdCommand::new(env!("CARGO_BIN_EXE_lgd")).args(words).arg("--help").output().unwrap();
        assert!(output.status.success(), "`lgd {} --help` failed", words.join(" "));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let global = help(&[]);
    for part in parts {
        let words: Vec<&str> = part.iter().take_while(|t| !t.starts_with('-')).copied().collect();
        let words: Vec<&str> =
            words.into_iter().filter(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '-')).collect();
        let text = help(&words);
        for option in part.iter().filter(|t| t.starts_with("--")) {
            let name = option.split('=').next().unwrap();
            let listed = |help: &str| help.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).any(|w| w == name);
            assert!(listed(&text) || listed(&global), "`{line}`: `lgd {}` has no option {name}", words.join(" "));
        }
    }
}

#[test]
fn every_command_of_the_readme_and_the_guides_runs() {
    let mut w = World::new(documented_commands());
    let started = Instant::now();

    // README: the two commands, and the build.
    w.skip(
        "make demo",
        "downloads (PyPI, Debian) and 20–30 minutes; its commands are run below and in tests/eval_commands.rs",
    );
    w.skip("make test", "the suite this test belongs to");
    w.skip("make build", "cargo built the binary under test, which is on PATH here");
    w.skip("export PATH=$PWD/target/release:$PATH", "the binary under test is on PATH here");
    let (info, _) = w.run(&["lgd info"]);
    let info: serde_json::Value = serde_json::from_str(&info).expect("lgd info prints JSON");
    assert!(info.is_object(), "{info}");

    // README: a real run, on the stand-ins.
    w.skip(
        "lgd fetch-clip RN50 --out weights/",
        "the network; tests/fetch_clip_loopback.rs downloads, resumes and verifies over loopback; weights/RN50.pt is the stand-in",
    );
    w.run(&["lgd prepare pack data/imagenet/train data/imagenet-packed/train"]);
    assert!(w.dir.join("data/imagenet-packed/train/index.lgdpack").exists());
    w.run(&["lgd prepare verify data/imagenet-packed/train"]);
    w.run(&["lgd bank --teacher weights/RN50.pt --classnames imagenet --out weights/rn50-imagenet.safetensors"]);
    assert!(w.dir.join("weights/rn50-imagenet.safetensors").exists());
    w.run(&["cp configs/imagenet-r18-clip-rn50.toml my-run.toml"]);
    for (field, value) in REDUCED_RECIPE {
        w.edit_config(field, value);
    }
    let (resolved, log) = w.run(&["lgd check-config my-run.toml"]);
    assert!(log.contains("every input it names is here"), "the recipe's paths are the README's:\n{log}");
    assert!(resolved.contains("[optimizer]"), "check-config prints the resolved config:\n{resolved}");

    w.start_daemon("lgd train --config my-run.toml --run-dir runs/r18");
    w.wait_for_log("training");
    w.wait_for_log("step=3");
    let pid = std::fs::read_to_string(w.dir.join("runs/r18/pid")).unwrap();
    assert_eq!(
        pid.trim(),
        w.daemon.as_ref().unwrap().0.id().to_string(),
        "runs/r18/pid names the daemon the README signals"
    );
    w.run(&["kill -USR1 $(cat runs/r18/pid)"]);
    w.wait_for_log("checkpoint_writer: checkpoint written");
    w.edit_config("logging.every_steps", "2");
    w.run(&["kill -HUP $(cat runs/r18/pid)"]);
    w.wait_for_log("config reloaded");
    let (status, _) = w.run(&["lgd status runs/r18"]);
    assert!(status.contains("training"), "a live run:\n{status}");
    operating_guide_live(&mut w);
    w.run(&["kill -TERM $(cat runs/r18/pid)"]);
    let (mut child, _) = w.daemon.take().unwrap();
    let exit = child.wait().unwrap();
    assert!(exit.success(), "SIGTERM: checkpoint and exit 0, got {exit}");
    let (status, _) = w.run(&["lgd status runs/r18"]);
    assert!(status.contains("stopped"), "{status}");
    w.run(&["lgd plot runs/r18"]);
    assert!(w.dir.join("runs/r18/curves.png").exists());
    w.run(&["lgd export runs/r18 --format torchvision --out r18.pth"]);
    // Judged at the end, so that every other command has run whatever the export's state. The
    // export of main at 5420750 fails it: it wrote the training checkpoint's own names
    // (`model.…`, `bank.visual`, `bank.seen`, …), which torchvision does not know (issue 28).
    let export_loads = python_blocks_run(&w, "README.md", "r18.pth");

    // training.md: the resumed run goes on from the newest checkpoint; one epoch more ends it.
    let step = lgd::daemon::status::RunStatus::read(&w.dir.join("runs/r18")).unwrap().step;
    w.edit_config("schedule.epochs", &(step / 6 + 1).to_string());
    w.run(&["lgd train --config my-run.toml --run-dir runs/r18"]);
    let status = lgd::daemon::status::RunStatus::read(&w.dir.join("runs/r18")).unwrap();
    assert_eq!(status.state, lgd::daemon::status::RunState::Finished);
    assert!(status.step > step, "the restart trained on from step {step}");

    guides(&mut w);
    toml_snippets_check(&w);

    let uncovered: Vec<String> = w
        .documented
        .iter()
        .filter(|(c, _)| !w.covered.contains_key(*c))
        .map(|(c, at)| format!("  {c}    ({})", at.join(", ")))
        .collect();
    assert!(
        uncovered.is_empty(),
        "documented commands this test neither runs nor skips (add each to this test):\n{}",
        uncovered.join("\n")
    );
    if let Err(error) = export_loads {
        panic!("the README's export (`lgd export runs/r18 --format torchvision --out r18.pth`) does not load as the README shows:\n{error}");
    }
    println!("{} documented commands in {:.0?}:", w.covered.len(), started.elapsed());
    for (command, how) in &w.covered {
        println!("  {command}\n      {how}");
    }
    let _ = std::fs::remove_dir_all(&w.dir);
}

/// Runs each ```` ```python ```` block of `document` that names `file` with the project's Python in
/// the working folder (where the documented commands wrote their files); the first failure, or
/// that no block names `file`.
fn python_blocks_run(w: &World, document: &str, file: &str) -> Result<(), String> {
    let chosen: Vec<Block> =
        blocks().into_iter().filter(|b| b.file == document && b.lang == "python" && b.text.contains(file)).collect();
    if chosen.is_empty() {
        return Err(format!("{document} has no ```python block that loads {file}"));
    }
    for block in chosen {
        let output = StdCommand::new(support::python()).args(["-c", &block.text]).current_dir(&w.dir).output().unwrap();
        if !output.status.success() {
            return Err(format!(
                "{}:{}:\n{}\n{}",
                block.file,
                block.line,
                block.text,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    Ok(())
}

/// docs/operating.md's commands against the live run (its `[status]` server is up).
fn operating_guide_live(w: &mut World) {
    let curl = StdCommand::new("bash").args(["-c", "command -v curl"]).output().unwrap();
    assert!(
        curl.status.success(),
        "docs/operating.md's commands use curl, which is not installed here (apt-get install curl)"
    );
    let (json, _) = w.run(&["lgd status runs/r18 --json"]);
    let json: serde_json::Value = serde_json::from_str(&json).expect("status --json prints JSON");
    assert_eq!(json["state"], "training");
    let addr = "addr=$(cat runs/r18/status_addr); token=$(cat runs/r18/status_token)";
    let (out, _) = w.run(&[addr, "curl -s http://$addr/status | python3 -m json.tool"]);
    assert!(out.contains("\"state\""), "{out}");
    let (out, _) = w.run(&[addr, "curl -s http://$addr/metrics | grep lgd_loss"]);
    assert!(out.contains("lgd_loss{part=\"total\"}"), "{out}");
    w.run(&[addr, "curl -s -X POST -H \"Authorization: Bearer $token\" http://$addr/checkpoint"]);
    w.wait_for_log("checkpoint_writer: checkpoint written");
    w.skip("tensorboard --logdir runs/r18/tensorboard", "a server that runs until stopped; tests/tensorboard_events_read_by_tensorboard.rs reads the event files with TensorBoard's own reader");
}

/// The guides' other commands, in the same folder.
fn guides(w: &mut World) {
    // training.md
    w.skip("lgd fetch-clip ViT-B/32 --out weights/", "the network; tests/fetch_clip_loopback.rs covers the download");
    let (resolved, _) = w.run(&["lgd check-config configs/imagenet-r18-clip-rn50.toml"]);
    assert!(resolved.contains("batch_size = 2048"), "the published recipe, resolved:\n{resolved}");
    w.skip(
        "lgd train --config my-run.toml --run-dir runs/r18 --accept-changes",
        "a start under a changed batch size; tests/resume_under_changes.rs refuses it, then accepts it with this flag",
    );

    // data.md
    w.run(&["lgd prepare pack data/imagenet/train data/imagenet-small/train --max-side 512 --quality 90"]);
    w.run_reduced(
        "lgd prepare imagenet-subset data/imagenet/train data/imagenet-100/train --per-class 100 --seed 0",
        "lgd prepare imagenet-subset data/imagenet/train data/imagenet-100/train --per-class 4 --seed 0",
        "the stand-in has 8 images a class",
    );
    w.run_reduced(
        "lgd prepare caltech-split 256_ObjectCategories data/caltech --train-per-class 60 --seed 0",
        "lgd prepare caltech-split data/imagenet/train data/caltech --train-per-class 5 --classes 3 --seed 0",
        "the ImageNet stand-in's 3 classes of 8 images as the categories",
    );
    let (_, _) = w.run(&["lgd prepare classnames data/caltech/train --out caltech-names.txt"]);
    assert_eq!(std::fs::read_to_string(w.dir.join("caltech-names.txt")).unwrap().lines().count(), 3);
    w.skip("bash scripts/fetch-fashion-mnist.sh", "the network (Debian's archive); `make demo` runs it");
    w.skip(
        "lgd prepare idx .cache/fashion-mnist/train-images-idx3-ubyte.gz .cache/fashion-mnist/train-labels-idx1-ubyte.gz data/fmnist/train --classnames fashion_mnist --format folder",
        "needs the download above; tests/prepare_cli.rs converts IDX files to both formats",
    );
    w.run_reduced(
        "lgd bench make-images --out bench-images --count 500",
        "lgd bench make-images --out bench-images --count 12",
        "12 images",
    );
    w.run_reduced(
        "lgd bench data --data bench-images --threads 2",
        "lgd bench data --data bench-images --threads 2 --images 24",
        "24 views",
    );
    w.run_reduced(
        "lgd bench data --data bench-images --threads 2 --full-decode",
        "lgd bench data --data bench-images --threads 2 --full-decode --images 24",
        "24 views",
    );

    // distributed.md
    let ranks = w.dir.join("ranks.toml");
    let mut config: toml::Table = toml::from_str(&std::fs::read_to_string(w.dir.join("my-run.toml")).unwrap()).unwrap();
    set(&mut config, "schedule.epochs", "1");
    set(&mut config, "validation.every_epochs", "0");
    config.remove("status");
    std::fs::write(&ranks, toml::to_string(&config).unwrap()).unwrap();
    w.run_reduced(
        "lgd launch --nproc-per-node 8 -- train --config my-run.toml --run-dir runs/r18",
        "lgd launch --nproc-per-node 2 --master-port 0 -- train --config ranks.toml --run-dir runs/r18-2ranks",
        "2 Gloo ranks on the CPU, one epoch",
    );
    let status = lgd::daemon::status::RunStatus::read(&w.dir.join("runs/r18-2ranks")).unwrap();
    assert_eq!(status.state, lgd::daemon::status::RunState::Finished, "two ranks trained to the end");
    w.skip(
        "torchrun --no-python --nproc-per-node 8 lgd train --config my-run.toml --run-dir runs/r18",
        "8 GPUs; tests/data_parallel_training.rs runs ranks under torchrun on the CPU",
    );
    for node in 0..2 {
        w.skip(
            &format!("lgd launch --nnodes 2 --node-rank {node} --master-addr 10.0.0.1 --nproc-per-node 8 -- train --config my-run.toml --run-dir runs/r18"),
            "two machines with 8 GPUs each",
        );
    }

    // evaluation.md, on the run trained above
    let c = "runs/r18/checkpoints/best.safetensors";
    assert!(w.dir.join(c).exists(), "validation kept a best checkpoint");
    let (out, _) = w.run(&[&format!(
        "lgd eval zero-shot --checkpoint {c} --data data/imagenet --bank weights/rn50-imagenet.safetensors"
    )]);
    assert!(!out.trim().is_empty(), "one readable line on stdout");
    w.run(&[&format!("lgd eval knn --checkpoint {c} --data data/imagenet")]);
    w.run(&[&format!("lgd eval linear --checkpoint {c} --data data/imagenet --method lbfgs")]);
    w.run_reduced(
        &format!("lgd eval linear --checkpoint {c} --data data/imagenet"),
        &format!("lgd eval linear --checkpoint {c} --data data/imagenet --epochs 2 --batch 8"),
        "2 probe epochs of 100, batches of 8 (the stand-in has 24 training images)",
    );
    w.run(&["lgd eval knn --random-init resnet18 --data data/imagenet"]);
    let results = std::fs::read_dir(w.dir.join("runs/r18/eval")).unwrap().count();
    assert!(results >= 4, "results go to RUN/eval/ ({results} files)");

    // export.md: the exports, then every line of Python the page shows, on what they wrote.
    w.run(&["lgd export runs/r18 --format torchvision --out r18.pth"]);
    w.run(&["lgd export runs/r18/checkpoints/best.safetensors --format safetensors --out r18.safetensors"]);
    w.run(&["lgd export runs/r18 --format torchvision --head --out r18-head.pth"]);
    let (_, log) = w.run(&["lgd export runs/r18 --format mmdet --out r18-mmdet.pth"]);
    assert!(
        log.contains(
            "backbone=dict(type='ResNet', depth=18, init_cfg=dict(type='Pretrained', checkpoint='r18-mmdet.pth'))"
        ),
        "{log}"
    );
    w.skip(
        "lgd export runs/mnv2 --format mmseg --out mnv2-mmseg.pth",
        "needs a MobileNetV2 run; tests/export_loads_in_mmdet_mmseg.rs trains one, exports it so and loads it in mmsegmentation",
    );
    for file in ["r18.pth", "r18.safetensors", "r18-head.pth", "r18-mmdet.pth"] {
        if let Err(error) = python_blocks_run(w, "docs/export.md", file) {
            panic!("docs/export.md's Python on what its commands wrote: {error}");
        }
    }

    // operating.md, after the run
    w.run(&["lgd plot runs/r18 --out r18-small.png --width 800 --height 500"]);
    assert!(w.dir.join("r18-small.png").exists());
}

/// Every ```toml block of the documents, merged into the reduced recipe, passes check-config.
fn toml_snippets_check(w: &World) {
    let base: toml::Table = toml::from_str(&std::fs::read_to_string(w.dir.join("my-run.toml")).unwrap()).unwrap();
    for (i, block) in blocks().iter().filter(|b| b.lang == "toml").enumerate() {
        let snippet: toml::Table =
            toml::from_str(&block.text).unwrap_or_else(|e| panic!("{}:{}: not TOML: {e}", block.file, block.line));
        let mut config = base.clone();
        merge(&mut config, &snippet);
        let file = w.dir.join(format!("snippet-{i}.toml"));
        std::fs::write(&file, toml::to_string(&config).unwrap()).unwrap();
        let output = StdCommand::new(env!("CARGO_BIN_EXE_lgd"))
            .arg("check-config")
            .arg(&file)
            .current_dir(&w.dir)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}:{}: the snippet does not pass check-config:\n{}",
            block.file,
            block.line,
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The scripts for other machines (```bash: sbatch scripts) are not run, but their `lgd` lines name
/// options that exist, and the port they derive from the job id is the one `lgd train` derives.
#[test]
fn scripts_for_a_cluster_name_real_options() {
    let scripts: Vec<Block> = blocks().into_iter().filter(|b| b.lang == "bash").collect();
    assert!(!scripts.is_empty(), "docs/distributed.md shows sbatch scripts");
    let mut checked = 0;
    for block in &scripts {
        for line in command_lines(&block.text).iter().filter(|l| l.split_whitespace().any(|t| t == "lgd")) {
            options_exist(line);
            checked += 1;
        }
        if block.text.contains("$((15000 + SLURM_JOB_ID % 17000))") {
            for job in [0u64, 1234, 16_999, 17_001, 987_654] {
                assert_eq!(
                    u64::from(lgd::distributed::port_of_job(job)),
                    15000 + job % 17000,
                    "{}:{}",
                    block.file,
                    block.line
                );
            }
        }
    }
    assert!(checked >= 3, "the srun lines of the sbatch scripts were found ({checked})");
}

/// The examples in `--help` texts (`lgd …`, and the rank command after `lgd launch … --`) name
/// options that exist; every subcommand's `--help` is walked.
#[test]
fn examples_in_help_name_real_options() {
    let example = regex::Regex::new(r"`((?:lgd |-- )[^`]+)`").unwrap();
    let mut queue: Vec<Vec<String>> = vec![Vec::new()];
    let mut seen = 0;
    while let Some(words) = queue.pop() {
        let output = StdCommand::new(env!("CARGO_BIN_EXE_lgd")).args(&words).arg("--help").output().unwrap();
        assert!(output.status.success(), "`lgd {} --help` failed", words.join(" "));
        let help = String::from_utf8_lossy(&output.stdout).into_owned();
        seen += 1;
        for fragment in example.captures_iter(&help).map(|c| c[1].to_owned()) {
            let line = match fragment.strip_prefix("-- ") {
                Some(rank) => format!("lgd {} -- {rank}", words.join(" ")),
                None => fragment,
            };
            options_exist(&line);
        }
        let commands = help.split("Commands:").nth(1).unwrap_or("");
        for line in commands.lines().skip(1).take_while(|l| l.is_empty() || l.starts_with(' ')) {
            let Some(name) =
                line.strip_prefix("  ").filter(|l| !l.starts_with(' ')).and_then(|l| l.split_whitespace().next())
            else {
                continue;
            };
            if name != "help" {
                queue.push(words.iter().cloned().chain([name.to_owned()]).collect());
            }
        }
    }
    assert!(seen > 20, "every subcommand's help was read ({seen})");
}

/// Every relative link of the documents names a file that exists, and a `#fragment` a heading of it.
#[test]
fn every_link_between_the_documents_resolves() {
    let root = support::root();
    let link = regex::Regex::new(r"\]\(([^)\s]*)\)").unwrap();
    let mut broken = Vec::new();
    for path in documents().into_iter().chain([root.join("ARCHITECTURE.md"), root.join("BENCHMARKS.md")]) {
        let text = std::fs::read_to_string(&path).unwrap();
        for target in link.captures_iter(&text).map(|c| c[1].to_owned()) {
            if target.starts_with("http") {
                continue;
            }
            let (file, fragment) = target.split_once('#').map_or((target.as_str(), None), |(f, a)| (f, Some(a)));
            let file = if file.is_empty() { path.clone() } else { path.parent().unwrap().join(file) };
            if !file.exists() {
                broken.push(format!("{}: {target} (no such file)", path.display()));
                continue;
            }
            if let Some(fragment) = fragment {
                let content = std::fs::read_to_string(&file).unwrap();
                let anchors: Vec<String> = content
                    .lines()
                    .filter_map(|l| l.strip_prefix('#'))
                    .map(|h| anchor(h.trim_start_matches('#')))
                    .collect();
                if !anchors.iter().any(|a| a == fragment) {
                    broken.push(format!("{}: {target} (no such heading)", path.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// GitHub's anchor of a heading: lower case, spaces to `-`, punctuation other than `-`/`_` dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The parser itself: comments, quotes, continuations.
#[test]
fn command_lines_are_read_as_a_shell_reads_them() {
    let text = "# a comment\nlgd a --x 1   # note\ncurl -H \"a # b\" u\nlgd b \\\n  --y 2\n\n";
    assert_eq!(command_lines(text), ["lgd a --x 1", "curl -H \"a # b\" u", "lgd b --y 2"]);
}

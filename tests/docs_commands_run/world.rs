//! The working folder the documents assume: reduced data and weights, the recipe made small, and the
//! commands run in it.

use super::*;

/// The edits that shrink the published recipe to the stand-ins (see the module comment).
pub(crate) const REDUCED_RECIPE: &[(&str, &str)] = &[
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
pub(crate) fn set(doc: &mut toml::Table, dotted: &str, literal: &str) {
    let (section, field) = dotted.split_once('.').unwrap();
    let value: toml::Table = toml::from_str(&format!("v = {literal}")).unwrap();
    let table = doc.entry(section).or_insert_with(|| toml::Value::Table(toml::Table::new()));
    table.as_table_mut().unwrap().insert(field.into(), value["v"].clone());
}

/// Merges `snippet` into `base`, table by table.
pub(crate) fn merge(base: &mut toml::Table, snippet: &toml::Table) {
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
pub(crate) struct World {
    pub(crate) dir: PathBuf,
    pub(crate) path_env: String,
    pub(crate) documented: BTreeMap<String, Vec<String>>,
    pub(crate) covered: BTreeMap<String, String>,
    pub(crate) daemon: Option<(Child, Receiver<String>)>,
}

impl World {
    pub(crate) fn new(documented: BTreeMap<String, Vec<String>>) -> World {
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
    pub(crate) fn fill(&self, line: &str) -> String {
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

    pub(crate) fn newest_step_checkpoint(&self) -> String {
        let mut steps: Vec<String> = std::fs::read_dir(self.dir.join("runs/r18/checkpoints"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("step-") && n.ends_with(".safetensors"))
            .collect();
        steps.sort();
        steps.pop().expect("a step checkpoint in runs/r18/checkpoints")
    }

    pub(crate) fn bash(&self, script: &str) -> Command {
        Command::new("bash")
            .args(["-c", &format!("set -euo pipefail\n{script}")])
            .current_dir(&self.dir)
            .env("PATH", &self.path_env)
            .timeout(Duration::from_secs(300))
    }

    /// Records how `doc` was covered; it must be a line the documents show now.
    pub(crate) fn cover(&mut self, doc: &str, how: &str) {
        assert!(
            self.documented.contains_key(doc),
            "this test covers `{doc}`, which no document shows: the README or a guide changed; make the test run what they show now"
        );
        self.covered.insert(doc.to_owned(), how.to_owned());
    }

    /// Runs documented lines as written (placeholders filled), together in one shell: they must
    /// succeed. Returns stdout and stderr.
    pub(crate) fn run(&mut self, docs: &[&str]) -> (String, String) {
        let script: Vec<String> = docs.iter().map(|d| self.fill(d)).collect();
        let output = self.bash(&script.join("\n")).assert().success();
        for doc in docs {
            self.cover(doc, "run");
        }
        let output = output.get_output();
        (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
    }

    /// Runs `instead` for the documented `doc`: the same command at a reduced size.
    pub(crate) fn run_reduced(&mut self, doc: &str, instead: &str, why: &str) -> (String, String) {
        options_exist(&self.fill(doc));
        let output = self.bash(&self.fill(instead)).assert().success();
        self.cover(doc, &format!("reduced: {why}"));
        let output = output.get_output();
        (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
    }

    /// Not run; its options are still checked against `--help`.
    pub(crate) fn skip(&mut self, doc: &str, why: &str) {
        options_exist(doc);
        self.cover(doc, &format!("skipped: {why}"));
    }

    /// Starts a documented `lgd train` in the background, as a user's first terminal holds it.
    pub(crate) fn start_daemon(&mut self, doc: &str) {
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
    pub(crate) fn wait_for_log(&self, needle: &str) -> String {
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
    pub(crate) fn edit_config(&self, dotted: &str, literal: &str) {
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
pub(crate) fn options_exist(line: &str) {
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

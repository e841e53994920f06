//! The house rule of the actor design: `src/daemon/topology.rs` makes every channel and mailbox
//! of a run. This scans the library crates' sources (test modules excepted) for a channel or a
//! mailbox made anywhere else, so a new one cannot slip in beside the topology unnoticed.

use std::path::{Path, PathBuf};

/// Where a channel may be made outside the topology, and why.
const ALLOWED: &[(&str, &str)] = &[
    ("src/daemon/topology.rs", "the topology itself"),
    ("actors/src/actor_runtime.rs", "each actor thread's exit channel: carries nothing, closes when it ends"),
    ("src/status_server/mod.rs", "the HTTP server's own shutdown signals, not an actor's"),
];

/// What making a channel or a mailbox looks like in our code.
const MAKERS: &[&str] =
    &["bounded(", "bounded::<", "unbounded(", "unbounded::<", "mailbox::bounded", "oneshot::channel", "mpsc::channel"];

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            // A folder named `tests` holds a module's unit tests.
            if path.file_name().is_some_and(|n| n != "tests") {
                rust_files(&path, found);
            }
        } else if path.extension().is_some_and(|e| e == "rs") && path.file_name().is_some_and(|n| n != "tests.rs") {
            found.push(path);
        }
    }
}

/// The lines of `source` that make a channel, outside comments and the `#[cfg(test)] mod`
/// (by house style the last item of a file).
fn channel_lines(source: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = source.lines().collect();
    let tests_start = lines
        .windows(2)
        .position(|pair| pair[0].trim() == "#[cfg(test)]" && pair[1].trim_start().starts_with("mod "))
        .unwrap_or(lines.len());
    lines[..tests_start]
        .iter()
        .enumerate()
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
        .filter(|(_, line)| MAKERS.iter().any(|maker| line.contains(maker)))
        .map(|(number, line)| (number + 1, line.trim().to_owned()))
        .collect()
}

#[test]
fn no_channel_or_mailbox_is_made_outside_the_topology() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for crate_sources in ["src", "actors/src", "datasets/src"] {
        rust_files(&root.join(crate_sources), &mut files);
    }
    assert!(files.len() > 100, "found only {} source files under {}", files.len(), root.display());
    let mut made_here = Vec::new();
    let mut topology_makes = 0;
    for file in &files {
        let relative = file.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        let lines = channel_lines(&std::fs::read_to_string(file).unwrap());
        if relative == ALLOWED[0].0 {
            topology_makes = lines.len();
        }
        if ALLOWED.iter().any(|(allowed, _)| *allowed == relative) {
            continue;
        }
        made_here.extend(lines.into_iter().map(|(number, line)| format!("{relative}:{number}: {line}")));
    }
    assert!(made_here.is_empty(), "channels made outside src/daemon/topology.rs:\n{}", made_here.join("\n"));
    // The scan sees the topology's own channels, so it would see one made elsewhere.
    assert!(topology_makes >= 8, "the scan found only {topology_makes} channels in the topology");
}

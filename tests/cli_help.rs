//! The CLI's help as a user reads it: the global options (`--log-format`, `--log-level`) are
//! listed once, in `lgd --help`, not again in every subcommand's help, and are still taken
//! before or after the subcommand.

use std::process::Command;

fn help(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_lgd")).args(args).output().unwrap();
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn global_options_are_listed_once() {
    let top = help(&["--help"]);
    assert_eq!(top.matches("--log-format").count(), 1, "{top}");
    assert_eq!(top.matches("--log-level").count(), 1, "{top}");
    for sub in [
        &["train", "--help"][..],
        &["check-config", "--help"],
        &["prepare", "pack", "--help"],
        &["eval", "--help"],
        &["launch", "--help"],
    ] {
        let text = help(sub);
        assert!(
            !text.contains("--log-format") && !text.contains("--log-level"),
            "{sub:?} repeats the global options:\n{text}"
        );
    }
    let train = help(&["train", "--help"]);
    assert!(
        train.contains("start-up included") && train.contains("first step boundary"),
        "signals during start-up are documented:\n{train}"
    );
}

#[test]
fn global_options_are_taken_after_the_subcommand_too() {
    let output = Command::new(env!("CARGO_BIN_EXE_lgd"))
        .args(["check-config", "--log-format", "json", "/nonexistent/run.toml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr.lines().next().expect("one log line");
    assert!(serde_json::from_str::<serde_json::Value>(line).is_ok(), "{line}");
}

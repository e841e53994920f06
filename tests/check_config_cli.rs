//! `lgd check-config` as a user meets it: the published recipe passes and prints the resolved
//! config, warning of the inputs it names that this machine lacks; a bad value fails with a
//! non-zero exit naming the field.

mod support;

use std::process::Command;

fn lgd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lgd"))
}

#[test]
fn published_recipe_passes_and_prints_the_resolved_config() {
    let output = lgd()
        .args(["check-config", "configs/imagenet-r18-clip-rn50.toml"])
        .current_dir(support::root())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("[optimizer]") && stdout.contains("lr = 0.03"), "{stdout}");
    assert!(stdout.contains("teacher_temperature = 0.01"), "{stdout}");
    // ImageNet and CLIP's weights are not on this machine: each is named, the config still valid.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("data.train: ") && stderr.contains("teacher.weights: "), "{stderr}");
    assert!(stderr.contains("does not exist here"), "{stderr}");
    assert!(stderr.contains("config is valid, but inputs it names are missing here"), "{stderr}");
    // The recipe trains on a GPU: its `auto` photometric place resolves to the training device.
    assert!(stdout.contains("photometric = \"auto\""), "{stdout}");
    assert!(
        stderr.contains("augmentation.photometric = \"auto\": on the training device (run.device = cuda"),
        "{stderr}"
    );
}

#[test]
fn negative_lr_fails_naming_the_field() {
    let dir = support::scratch("check-config");
    let recipe = std::fs::read_to_string(support::root().join("configs/imagenet-r18-clip-rn50.toml")).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, recipe.replace("\nlr = 0.03 ", "\nlr = -1 ")).unwrap();
    let output = lgd().arg("check-config").arg(&bad).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("optimizer.lr: must be > 0"), "{stderr}");
    assert!(stderr.contains(&bad.display().to_string()), "the error names the file: {stderr}");
    assert!(output.stdout.is_empty(), "nothing printed as a config");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_file_is_named() {
    let output = lgd().args(["check-config", "/nonexistent/run.toml"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("/nonexistent/run.toml: No such file"), "{stderr}");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let output = lgd().args(["--log-format", "json", "check-config", "/nonexistent/run.toml"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr.lines().next().expect("one log line");
    let record: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
    assert_eq!(record["level"], "ERROR");
    assert!(record["message"].as_str().unwrap().contains("/nonexistent/run.toml"), "{line}");
}

#[test]
fn the_file_may_also_be_given_as_lgd_train_takes_it() {
    let with_flag = lgd()
        .args(["check-config", "--config", "configs/imagenet-r18-clip-rn50.toml"])
        .current_dir(support::root())
        .output()
        .unwrap();
    let positional = lgd()
        .args(["check-config", "configs/imagenet-r18-clip-rn50.toml"])
        .current_dir(support::root())
        .output()
        .unwrap();
    assert!(with_flag.status.success(), "{}", String::from_utf8_lossy(&with_flag.stderr));
    assert_eq!(with_flag.stdout, positional.stdout);
    let both = lgd().args(["check-config", "a.toml", "--config", "b.toml"]).output().unwrap();
    let neither = lgd().args(["check-config"]).output().unwrap();
    for (what, output) in [("both", both), ("neither", neither)] {
        assert_eq!(output.status.code(), Some(2), "{what}: a usage error");
        assert!(String::from_utf8_lossy(&output.stderr).contains("Usage: lgd check-config"), "{what}");
    }
}

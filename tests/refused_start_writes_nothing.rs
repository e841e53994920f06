//! A start `lgd train` refuses leaves the run folder as it was, but for the status that says why:
//! a resume under another batch size (its config.toml is not overwritten), inputs of the wrong
//! kind named by their field, a device this machine lacks, a status port already taken (before
//! the teacher loads).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Every file under `dir` (but status.json) with its bytes.
fn contents(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n != "status.json") {
                files.insert(path.strip_prefix(dir).unwrap().to_owned(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

fn status(run: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("status.json")).unwrap()).unwrap()
}

/// `lgd train` on dir/run.toml; (success, stderr).
fn train(dir: &Path) -> (bool, String) {
    let output = support::daemon::train_to_end(dir);
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn a_resume_refused_for_another_batch_size_changes_nothing_but_the_status() {
    let dir = support::scratch("refused-resume");
    support::write_image_folder(&dir.join("data"), &["a", "b"], 8);
    let config = support::daemon::cpu_config(&dir, 1, "");
    std::fs::write(dir.join("run.toml"), &config).unwrap();
    let (ok, stderr) = train(&dir);
    assert!(ok, "{stderr}");
    let run = dir.join("run");
    let before = contents(&run);
    assert!(
        before.contains_key(Path::new("config.toml")) && before.keys().any(|p| p.starts_with("checkpoints")),
        "{:?}",
        before.keys()
    );

    let refused = config.replace("\nepochs = 1\n", "\nepochs = 2\n").replace("batch_size = 4", "batch_size = 8");
    std::fs::write(dir.join("run.toml"), refused).unwrap();
    let (ok, stderr) = train(&dir);
    assert!(!ok && stderr.contains("data.batch_size"), "refused, naming the field: {stderr}");
    let after = contents(&run);
    for (path, bytes) in &before {
        assert!(after.get(path) == Some(bytes), "{} changed on a refused start", path.display());
    }
    assert_eq!(after.keys().collect::<Vec<_>>(), before.keys().collect::<Vec<_>>(), "no file added or removed");
    let said = status(&run);
    assert_eq!(said["state"], "failed", "{said}");
    assert!(said["message"].as_str().unwrap().contains("data.batch_size"), "the status says why: {said}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn inputs_of_the_wrong_kind_fail_train_and_check_config_naming_the_field() {
    let dir = support::scratch("inputs-kind");
    support::write_image_folder(&dir.join("data"), &["a", "b"], 8);
    std::fs::create_dir_all(dir.join("weights-folder")).unwrap();
    std::fs::write(dir.join("data-file"), b"not a folder").unwrap();
    let config = support::daemon::cpu_config(&dir, 1, "");
    let weights = support::lite0_weights().display().to_string();
    let data = dir.join("data").display().to_string();
    let cases = [
        (
            config.replace(&weights, &dir.join("weights-folder").display().to_string()),
            "teacher.weights: ",
            "is a folder, but a file is expected",
        ),
        (
            config.replace(&data, &dir.join("data-file").display().to_string()),
            "data.train: ",
            "is a file, but a folder is expected",
        ),
    ];
    for (text, field, why) in cases {
        std::fs::write(dir.join("run.toml"), &text).unwrap();
        let checked = std::process::Command::new(env!("CARGO_BIN_EXE_lgd"))
            .arg("check-config")
            .arg(dir.join("run.toml"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&checked.stderr);
        assert_eq!(checked.status.code(), Some(1), "check-config catches what train refuses: {stderr}");
        assert!(stderr.contains(field) && stderr.contains(why), "{stderr}");
        let (ok, stderr) = train(&dir);
        assert!(!ok && stderr.contains(field) && stderr.contains(why), "{stderr}");
        assert!(!stderr.contains("os error 21"), "the field is named, not only the OS error: {stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_cuda_for_the_default_device_fails_at_once_with_a_status_saying_why() {
    if tch::Cuda::device_count() > 0 {
        println!("this machine has CUDA: the default device cuda:0 is here, nothing to refuse");
        return;
    }
    let dir = support::scratch("no-cuda");
    support::write_image_folder(&dir.join("data"), &["a", "b"], 8);
    let config = support::daemon::cpu_config(&dir, 1, "").replace("device = \"cpu\"\n", "");
    std::fs::write(dir.join("run.toml"), &config).unwrap();
    let checked = std::process::Command::new(env!("CARGO_BIN_EXE_lgd"))
        .arg("check-config")
        .arg(dir.join("run.toml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&checked.stderr);
    assert!(
        checked.status.success() && stderr.contains("WARN") && stderr.contains("run.device: cuda:0"),
        "a warning: the config may run elsewhere: {stderr}"
    );
    let (ok, stderr) = train(&dir);
    assert!(!ok && stderr.contains("run.device: cuda:0"), "{stderr}");
    let said = status(&dir.join("run"));
    assert_eq!(said["state"], "failed", "{said}");
    assert!(said["message"].as_str().unwrap().contains("run.device"), "{said}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_status_port_already_taken_fails_before_the_teacher_loads() {
    let dir = support::scratch("port-taken");
    support::write_image_folder(&dir.join("data"), &["a", "b"], 8);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    std::fs::write(
        dir.join("run.toml"),
        support::daemon::cpu_config(&dir, 1, &format!("[status]\naddr = \"{addr}\"\n")),
    )
    .unwrap();
    let (ok, stderr) = train(&dir);
    assert!(!ok && stderr.contains("status.addr") && stderr.contains(&addr.to_string()), "{stderr}");
    let said = status(&dir.join("run"));
    assert_eq!(said["state"], "failed", "{said}");
    assert_eq!(said["startup_phase"], "checking_checkpoint", "failed before the teacher's phase began: {said}");
    std::fs::remove_dir_all(&dir).unwrap();
}

//! Undecodable training files are replaced and listed; above `data.max_bad_fraction` (rounded up to
//! whole files, so one bad file never stops a run) the run stops with a clear error (and a
//! checkpoint) instead of training on whatever is left. `data.max_pixels` is the image-bomb guard's
//! limit, and its message names the setting.

mod support;

use std::process::Command;

fn train(dir: &std::path::Path, max_bad_fraction: f64) -> (bool, String) {
    train_with(dir, &format!("max_bad_fraction = {max_bad_fraction}"))
}

/// Trains 2 epochs on dir/data with `data` settings added to `[data]`.
fn train_with(dir: &std::path::Path, data: &str) -> (bool, String) {
    let config = format!(
        "[run]\ndevice = \"cpu\"\n[data]\ntrain = \"data\"\nbatch_size = 4\n{data}\n\
         [student]\narch = \"resnet18\"\n[teacher]\nkind = \"supervised\"\nweights = \"{}\"\n\
         [banks]\ntext = \"teacher_classifier\"\n[augmentation]\noutput_size = 32\n[schedule]\nepochs = 2\nwarmup_epochs = 0\n\
         [precision]\nautocast = \"fp32\"\n[checkpoint]\nresume = \"never\"\n",
        support::lite0_weights().display()
    );
    std::fs::write(dir.join("run.toml"), config).unwrap();
    let _ = std::fs::remove_dir_all(dir.join("run"));
    let output = Command::new(env!("CARGO_BIN_EXE_lgd"))
        .args(["train", "--config", "run.toml", "--run-dir", "run"])
        .current_dir(dir)
        .output()
        .unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn bad_files_are_listed_and_too_many_stop_the_run() {
    let dir = support::scratch("bad-samples");
    support::write_image_folder(&dir.join("data"), &["a", "b"], 5);
    for (name, bytes) in
        [("a/zero.ppm", &b""[..]), ("b/text.ppm", b"hello"), ("b/truncated.ppm", b"P6\n40 40\n255\n\x01\x02")]
    {
        std::fs::write(dir.join("data").join(name), bytes).unwrap();
    }
    let (ok, stderr) = train(&dir, 0.5);
    assert!(ok, "3 of 13 bad is tolerated at 0.5: {stderr}");
    let listed = std::fs::read_to_string(dir.join("run/bad_samples.txt")).unwrap();
    for name in ["zero.ppm", "text.ppm", "truncated.ppm"] {
        assert!(listed.contains(name), "{name} missing from bad_samples.txt:\n{listed}");
    }
    assert_eq!(listed.lines().count(), 3, "each bad file listed once");

    let (ok, stderr) = train(&dir, 0.1);
    assert!(!ok, "3 of 13 bad is refused at 0.1");
    assert!(stderr.contains("more than data.max_bad_fraction = 0.1") && stderr.contains("bad_samples.txt"), "{stderr}");
    assert!(dir.join("run/checkpoints").read_dir().is_ok_and(|mut d| d.next().is_some()), "stopped with a checkpoint");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn one_bad_file_never_stops_a_run_and_max_pixels_is_the_bomb_guard() {
    let dir = support::scratch("one-bad-sample");
    // 2 classes x 5 images of (40 + 4i) x (32 + 2c) pixels; one zero-byte file among 11.
    support::write_image_folder(&dir.join("data"), &["a", "b"], 5);
    std::fs::write(dir.join("data/a/zero.ppm"), b"").unwrap();
    let (ok, stderr) = train_with(&dir, "");
    assert!(ok, "1 bad file of 11 at the default data.max_bad_fraction: {stderr}");
    assert_eq!(std::fs::read_to_string(dir.join("run/bad_samples.txt")).unwrap().lines().count(), 1);

    std::fs::remove_file(dir.join("data/a/zero.ppm")).unwrap();
    // 40x32 = 1280 and 40x34 = 1360 pixels pass a 1400-pixel limit; every wider image is a bomb.
    let (ok, stderr) = train_with(&dir, "max_pixels = 1400\nmax_bad_fraction = 1.0");
    assert!(ok, "{stderr}");
    let listed = std::fs::read_to_string(dir.join("run/bad_samples.txt")).unwrap();
    assert!(
        !listed.is_empty() && !listed.contains("a/0.ppm\t") && !listed.contains("b/0.ppm\t"),
        "only the wider images:\n{listed}"
    );
    assert!(
        listed.lines().all(|l| l.contains("exceeds the limit of 1400") && l.contains("data.max_pixels")),
        "{listed}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

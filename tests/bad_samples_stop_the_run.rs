//! Undecodable training files are replaced and listed; above `data.max_bad_fraction` the run stops
//! with a clear error (and a checkpoint) instead of training on whatever is left.

mod support;

use std::process::Command;

fn train(dir: &std::path::Path, max_bad_fraction: f64) -> (bool, String) {
    let config = format!(
        "[run]\ndevice = \"cpu\"\n[data]\ntrain = \"data\"\nbatch_size = 4\nmax_bad_fraction = {max_bad_fraction}\n\
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
    for (name, bytes) in [("a/zero.ppm", &b""[..]), ("b/text.ppm", b"hello"), ("b/truncated.ppm", b"P6\n40 40\n255\n\x01\x02")] {
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

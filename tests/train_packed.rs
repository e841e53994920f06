//! Training reads packed datasets: `lgd prepare pack` then `lgd train` with `data.format = "packed"`.

mod support;

use std::process::Command;

#[test]
fn a_packed_dataset_trains() {
    let dir = support::scratch("train-packed");
    support::write_image_folder(&dir.join("images"), &["a", "b"], 6);
    let pack = Command::new(env!("CARGO_BIN_EXE_lgd")).args(["prepare", "pack", "images", "packed"]).current_dir(&dir).output().unwrap();
    assert!(pack.status.success(), "{}", String::from_utf8_lossy(&pack.stderr));
    let config = format!(
        "[run]\ndevice = \"cpu\"\n[data]\ntrain = \"packed\"\nformat = \"packed\"\nbatch_size = 4\n[student]\narch = \"resnet18\"\n\
         [teacher]\nkind = \"supervised\"\nweights = \"{}\"\n[banks]\ntext = \"teacher_classifier\"\n\
         [augmentation]\noutput_size = 32\n[schedule]\nepochs = 2\nwarmup_epochs = 0\n[precision]\nautocast = \"fp32\"\n",
        support::lite0_weights().display()
    );
    std::fs::write(dir.join("run.toml"), config).unwrap();
    let train = Command::new(env!("CARGO_BIN_EXE_lgd"))
        .args(["train", "--config", "run.toml", "--run-dir", "run"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&train.stderr);
    assert!(train.status.success(), "{stderr}");
    assert!(stderr.contains("finished after 6 steps"), "12 packed samples, batch 4, 2 epochs: {stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

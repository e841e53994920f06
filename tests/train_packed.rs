//! Training reads packed datasets: `lgd prepare pack` then `lgd train` with `data.format = "packed"`,
//! validating on a packed val split too; `lgd eval` reads packed train/val splits.

mod support;

use std::process::Command;

#[test]
fn a_packed_dataset_trains() {
    let dir = support::scratch("train-packed");
    support::write_image_folder(&dir.join("images"), &["a", "b"], 6);
    support::write_image_folder(&dir.join("val-images"), &["a", "b"], 3);
    for (from, to) in [("images", "packed"), ("val-images", "packed-val")] {
        let pack = Command::new(env!("CARGO_BIN_EXE_lgd"))
            .args(["prepare", "pack", from, to])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(pack.status.success(), "{}", String::from_utf8_lossy(&pack.stderr));
    }
    let config = format!(
        "[run]\ndevice = \"cpu\"\n[data]\ntrain = \"packed\"\nval = \"packed-val\"\nformat = \"packed\"\nbatch_size = 4\n[student]\narch = \"resnet18\"\n\
         [teacher]\nkind = \"supervised\"\nweights = \"{}\"\n[banks]\ntext = \"teacher_classifier\"\n\
         [augmentation]\noutput_size = 32\neval_resize = 32\neval_crop = 32\n[schedule]\nepochs = 2\nwarmup_epochs = 0\n[precision]\nautocast = \"fp32\"\n",
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
    let metrics = std::fs::read_to_string(dir.join("run/metrics.jsonl")).unwrap();
    let validations: Vec<serde_json::Value> = metrics
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r.get("validation").is_some())
        .collect();
    assert_eq!(validations.len(), 3, "at start and after each epoch");
    assert!(validations.iter().all(|v| v["validation"]["images"] == 6), "the 6 packed val images: {validations:?}");

    std::fs::create_dir_all(dir.join("splits")).unwrap();
    std::fs::rename(dir.join("packed"), dir.join("splits/train")).unwrap();
    std::fs::rename(dir.join("packed-val"), dir.join("splits/val")).unwrap();
    let knn = Command::new(env!("CARGO_BIN_EXE_lgd"))
        .args(["eval", "knn", "--random-init", "resnet18", "--resize", "32", "--crop", "32", "--data", "splits"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(knn.status.success(), "eval reads packed splits: {}", String::from_utf8_lossy(&knn.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}

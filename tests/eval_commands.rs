//! `lgd eval knn` and `lgd eval linear` (all three probe methods) as users run them: classes that
//! look different are found (≥ 95 % top-1 even by a random network's features, and by the pixels
//! themselves), and classes that do not differ stay at chance — the evaluation can fail; a data
//! folder without its `val` split is refused naming it.

mod support;

use std::path::Path;
use std::process::Command;

fn eval(root: &Path, what: &str, extra: &[&str]) -> serde_json::Value {
    let out = root.join(format!("{what}.json"));
    let output = Command::new(env!("CARGO_BIN_EXE_lgd"))
        .args(["eval", what, "--random-init", "resnet18", "--resize", "32", "--crop", "32", "--data"])
        .arg(root)
        .arg("--out")
        .arg(&out)
        .args(extra)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    print!("{}", String::from_utf8_lossy(&output.stdout));
    serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap()
}

#[test]
fn informative_classes_are_found_and_uninformative_ones_are_not() {
    let good = support::scratch("eval-informative");
    support::colour_classes(&good, true);
    let knn = eval(&good, "knn", &[]);
    assert!(knn["knn"]["top1"].as_f64().unwrap() >= 0.95, "{knn}");
    let pixels = eval(&good, "knn", &["--features", "pixels"]);
    assert!(pixels["knn"]["top1"].as_f64().unwrap() >= 0.95, "{pixels}");
    let last_epoch =
        |v: &serde_json::Value| v["linear"]["epochs"].as_array().unwrap().last().unwrap()["top1"].as_f64().unwrap();
    let sgd = eval(&good, "linear", &["--method", "sgd", "--epochs", "30"]);
    assert!(last_epoch(&sgd) >= 0.95, "{sgd}");
    let full = eval(&good, "linear", &["--method", "full", "--epochs", "15", "--batch", "16", "--workers", "1"]);
    assert!(last_epoch(&full) >= 0.95, "{full}");
    let lbfgs = eval(&good, "linear", &["--method", "lbfgs"]);
    assert!(lbfgs["linear"]["top1"].as_f64().unwrap() >= 0.95, "{lbfgs}");

    let noise = support::scratch("eval-uninformative");
    support::colour_classes(&noise, false);
    let knn = eval(&noise, "knn", &[]);
    assert!(knn["knn"]["top1"].as_f64().unwrap() <= 0.5, "chance is 25 %: {knn}");
    let lbfgs = eval(&noise, "linear", &["--method", "lbfgs"]);
    assert!(lbfgs["linear"]["top1"].as_f64().unwrap() <= 0.5, "chance is 25 %: {lbfgs}");
    for dir in [good, noise] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn a_data_folder_without_its_splits_is_refused_naming_the_missing_one() {
    let dir = support::scratch("eval-no-val");
    support::write_image_folder(&dir.join("train"), &["a", "b"], 2);
    let output = Command::new(env!("CARGO_BIN_EXE_lgd"))
        .args(["eval", "knn", "--random-init", "resnet18", "--data"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    let expected =
        format!("--data: {} has no `val` folder (it takes a folder holding `train/` and `val/`)", dir.display());
    assert!(stderr.contains(&expected), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

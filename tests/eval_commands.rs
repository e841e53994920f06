//! `lgd eval knn` and `lgd eval linear` as users run them: classes that look different are found
//! (≥ 95 % top-1 even by a random network's features), and classes that do not differ stay at chance —
//! the evaluation can fail.

mod support;

use std::path::Path;
use std::process::Command;

/// `root/{train,val}/<class>/*.ppm`; when `informative`, each class has its own colour.
fn dataset(root: &Path, informative: bool) {
    for (split, count) in [("train", 20), ("val", 10)] {
        for class in 0..4usize {
            let dir = root.join(split).join(format!("class{class}"));
            std::fs::create_dir_all(&dir).unwrap();
            for i in 0..count {
                let seed = i * 31 + class * 7 + if split == "val" { 1000 } else { 0 };
                let colour = if informative { class } else { seed % 4 };
                let base = [[200u8, 30, 30], [30, 200, 30], [30, 30, 200], [200, 200, 30]][colour];
                let mut bytes = b"P6\n32 32\n255\n".to_vec();
                for p in 0..32 * 32 {
                    let noise = ((p * 131 + seed * 17) % 41) as u8;
                    bytes.extend(base.iter().map(|c| c.saturating_add(noise)));
                }
                std::fs::write(dir.join(format!("{i}.ppm")), bytes).unwrap();
            }
        }
    }
}

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
    dataset(&good, true);
    let knn = eval(&good, "knn", &[]);
    assert!(knn["knn"]["top1"].as_f64().unwrap() >= 0.95, "{knn}");
    let linear = eval(&good, "linear", &["--epochs", "30"]);
    let last = linear["linear"]["epochs"].as_array().unwrap().last().unwrap().clone();
    assert!(last["top1"].as_f64().unwrap() >= 0.95, "{last}");

    let noise = support::scratch("eval-uninformative");
    dataset(&noise, false);
    let knn = eval(&noise, "knn", &[]);
    assert!(knn["knn"]["top1"].as_f64().unwrap() <= 0.5, "chance is 25 %: {knn}");
    for dir in [good, noise] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

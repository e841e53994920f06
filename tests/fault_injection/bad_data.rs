//! A corpus mixing valid images of every format with every kind of bad file: the run finishes,
//! every bad file is in `bad_samples.txt` with its reason, and no valid file is listed there.

use std::collections::BTreeSet;
use std::process::Command;

use crate::daemon::Scene;
use crate::support;

#[test]
fn a_corpus_of_bad_files_is_survived_and_reported() {
    let scene = Scene::new("faults-bad-data", 1);
    let data = scene.dir.join("corpus");
    let output = Command::new(support::python())
        .arg(support::root().join("tests/fault_injection/make_corpus.py"))
        .arg(&data)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let corpus: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let names = |key: &str| -> BTreeSet<String> { corpus[key].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect() };
    let (valid, bad) = (names("valid"), names("bad"));
    let listed = lgd_datasets::image_folder::ImageFolder::open(&data).unwrap();
    assert_eq!(listed.samples().len(), valid.len() + bad.len(), "every file is in the dataset (none dropped while listing)");

    let config = crate::daemon::config_text(&data, 2, "[checkpoint]\nresume = \"never\"\n")
        .replace("batch_size = 4", "batch_size = 4\nmax_bad_fraction = 0.5");
    std::fs::write(scene.dir.join("run.toml"), config).unwrap();
    let (status, lines) = scene.run_to_end();
    assert!(status.success(), "{}", lines.join("\n"));
    let report = std::fs::read_to_string(scene.run_dir().join("bad_samples.txt")).unwrap();
    let reported: BTreeSet<String> = report
        .lines()
        .map(|line| line.split('\t').next().unwrap().strip_prefix(&format!("{}/", data.display())).unwrap().to_owned())
        .collect();
    assert_eq!(report.lines().count(), reported.len(), "each bad file listed once");
    assert!(report.lines().all(|l| l.split('\t').nth(1).is_some_and(|why| !why.is_empty())), "each with a reason:\n{report}");
    let lost: Vec<&String> = valid.intersection(&reported).collect();
    assert!(lost.is_empty(), "valid files reported bad: {lost:?}\n{report}");
    // A bad file is reported when a batch meets it; over two epochs (drop_last) each is met.
    let missing: Vec<&String> = bad.difference(&reported).collect();
    assert!(missing.is_empty(), "bad files not reported: {missing:?}\n{report}");
    println!(
        "FAULTS bad data: {} valid files (JPEG baseline/progressive/CMYK/grey, PNG 16-bit/palette/alpha/1x1) all used, {} bad files all in bad_samples.txt, run finished",
        valid.len(),
        bad.len()
    );
}

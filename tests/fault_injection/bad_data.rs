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
    let names = |key: &str| -> BTreeSet<String> {
        corpus[key].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect()
    };
    let (valid, bad) = (names("valid"), names("bad"));
    let listed = lgd_datasets::image_folder::ImageFolder::open(&data).unwrap();
    assert_eq!(
        listed.samples().len(),
        valid.len() + bad.len(),
        "every file is in the dataset (none dropped while listing)"
    );

    let config = crate::daemon::config_text(&data, 2, "[checkpoint]\nresume = \"never\"\n")
        .replace("batch_size = 4", "batch_size = 4\nmax_bad_fraction = 0.5");
    std::fs::write(scene.dir.join("run.toml"), config).unwrap();
    let (status, lines) = scene.run_to_end();
    assert!(status.success(), "{}", lines.join("\n"));
    let report = std::fs::read_to_string(scene.run_dir().join("bad_samples.txt")).unwrap();
    let reported = one_line_per_file(&report, &format!("{}/", data.display()));
    let lost: Vec<&String> = valid.intersection(&reported).collect();
    assert!(lost.is_empty(), "valid files reported bad: {lost:?}\n{report}");
    // A bad file is reported when a batch meets it; over two epochs (drop_last) each is met.
    let missing: Vec<&String> = bad.difference(&reported).collect();
    assert!(missing.is_empty(), "bad files not reported: {missing:?}\n{report}");
    // `lgd prepare pack` lists what it skips the same way, relative to the source folder.
    let pack = scene.dir.join("pack");
    let packed =
        Command::new(env!("CARGO_BIN_EXE_lgd")).args(["prepare", "pack"]).arg(&data).arg(&pack).output().unwrap();
    assert!(packed.status.success(), "{}", String::from_utf8_lossy(&packed.stderr));
    let skipped = one_line_per_file(&std::fs::read_to_string(pack.join("skipped.txt")).unwrap(), "");
    assert_eq!(skipped, bad, "skipped.txt lists exactly the bad files");
    println!(
        "FAULTS bad data: {} valid files (JPEG baseline/progressive/CMYK/grey, PNG 16-bit/palette/alpha/1x1) all used, {} bad files all in bad_samples.txt, run finished",
        valid.len(),
        bad.len()
    );
}

/// The files of a `path<TAB>reason` report (paths without `prefix`), checked line by line: one line
/// per file, no path twice, a reason on the same line that does not repeat the path.
fn one_line_per_file(report: &str, prefix: &str) -> BTreeSet<String> {
    let mut files = BTreeSet::new();
    for line in report.lines() {
        let (path, reason) = line.split_once('\t').unwrap_or_else(|| panic!("no tab in `{line}`:\n{report}"));
        assert!(!reason.is_empty() && !reason.contains('\t'), "one reason per line: `{line}`");
        let name = path.strip_prefix(prefix).unwrap_or_else(|| panic!("`{path}` is not under {prefix}"));
        assert!(!reason.contains(path) && !reason.contains(name), "the path is said once, first: `{line}`");
        assert!(files.insert(name.to_owned()), "{name} listed twice:\n{report}");
    }
    assert!(report.is_empty() || report.ends_with('\n'), "{report:?}");
    files
}

//! `lgd prepare …` as a user meets it: pack, verify (and its report of a damaged sample), a pack
//! killed mid-way and run again, re-encoding's chroma and `lgd bench data` on the result, IDX
//! conversion, the split tools, and errors naming the path.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lgd_datasets::packed::jpeg::encode_jpeg;
use lgd_datasets::packed::sampling::sampling_factors;
use lgd_datasets::packed::{Chroma, PackedDataset};
use lgd_datasets::RgbImage;

/// Runs `lgd` with JSON logs (one object per line, no colour codes), so tests can read fields.
fn lgd(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lgd"));
    command.args(["--log-format", "json"]);
    for a in args {
        command.arg(a);
    }
    command.output().expect("starting lgd")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// `classes` × `per_class` JPEGs of varying size, plus one file that is not an image.
fn image_folder(root: &Path, classes: usize, per_class: usize) {
    for c in 0..classes {
        let dir = root.join(format!("c{c}"));
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..per_class {
            let (w, h) = (60 + 9 * i, 40 + 4 * c);
            let data = (0..w * h).flat_map(|p| [(p % w * 4) as u8, (p / w * 5) as u8, (c * 40 + i) as u8]).collect();
            let img = RgbImage::from_raw(w, h, data).unwrap();
            std::fs::write(dir.join(format!("{i:03}.jpg")), encode_jpeg(&img, 90, Chroma::Yuv420).unwrap()).unwrap();
        }
    }
    std::fs::write(root.join("c0/broken.jpg"), b"\xFF\xD8\xFF garbage").unwrap();
}

/// The numeric field `name` of the first JSON log line that has it.
fn log_field(log: &str, name: &str) -> Option<u64> {
    log.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()).find_map(|v| v[name].as_u64())
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect();
    out.sort();
    out
}

#[test]
fn pack_then_verify_finds_a_damaged_sample_by_index_and_path() {
    let dir = support::scratch("prepare-pack");
    let (src, out) = (dir.join("src"), dir.join("packed"));
    image_folder(&src, 3, 5);
    let o = lgd(&[&"prepare", &"pack", &src, &out, &"--shard-size", &"20K", &"--threads", &"2"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("skipped: c0/broken.jpg"), "{}", text(&o));
    let data = PackedDataset::open(&out).unwrap();
    assert_eq!(data.len(), 15);
    let o = lgd(&[&"prepare", &"verify", &out]);
    assert!(o.status.success(), "{}", text(&o));
    // Damage sample 6 inside its shard.
    let record = data.record(6).unwrap();
    let path = data.path(6).unwrap();
    let shard = out.join(format!("shard-{:05}.bin", record.shard));
    drop(data);
    let mut bytes = std::fs::read(&shard).unwrap();
    bytes[record.offset as usize + record.length as usize / 2] ^= 0x55;
    std::fs::write(&shard, bytes).unwrap();
    let o = lgd(&[&"prepare", &"verify", &out]);
    let report = text(&o);
    println!("{report}");
    assert_eq!(o.status.code(), Some(1), "{report}");
    assert!(report.contains(&format!("sample 6 ({path}): checksum mismatch")), "{report}");
    assert!(report.contains("1 of 15 samples are damaged"), "{report}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_killed_pack_resumes_and_ends_identical_to_an_uninterrupted_one() {
    let dir = support::scratch("prepare-resume");
    let src = dir.join("src");
    image_folder(&src, 4, 6);
    let (whole, killed) = (dir.join("whole"), dir.join("killed"));
    let common: [&dyn AsRef<std::ffi::OsStr>; 6] = [&"--shard-size", &"4K", &"--max-side", &"48", &"--threads", &"1"];
    let run = |out: &PathBuf, extra: &[&dyn AsRef<std::ffi::OsStr>]| {
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"prepare", &"pack", &src, out];
        args.extend_from_slice(&common);
        args.extend_from_slice(extra);
        lgd(&args)
    };
    let o = run(&whole, &[]);
    assert!(o.status.success(), "{}", text(&o));
    // Die (SIGABRT, no clean-up) twice part-way, then finish.
    for n in ["9", "8"] {
        let o = run(&killed, &[&"--abort-after", &n]);
        assert!(!o.status.success() && o.status.code().is_none(), "expected death by signal: {}", text(&o));
        assert!(!killed.join("index.lgdpack").exists());
    }
    let partial: Vec<String> = files(&killed).into_iter().map(|(n, _)| n).collect();
    println!("after two kills: {partial:?}");
    let o = run(&killed, &[]);
    let log = text(&o);
    assert!(o.status.success(), "{log}");
    let resumed_at = log_field(&log, "resumed_at").expect("a resumed_at field in the log");
    println!("final run resumed at source sample {resumed_at}");
    assert!(resumed_at > 0, "shards finished before the kills are kept: {log}");
    assert_eq!(files(&killed), files(&whole));
    let o = lgd(&[&"prepare", &"verify", &killed]);
    assert!(o.status.success(), "{}", text(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reencoding_writes_420_unless_444_is_asked_and_bench_data_reads_the_pack() {
    let dir = support::scratch("prepare-chroma");
    let src = dir.join("src");
    image_folder(&src, 2, 3);
    for (extra, luma) in [(None, (2, 2)), (Some("420"), (2, 2)), (Some("444"), (1, 1))] {
        let out = dir.join(format!("pack-{}", extra.unwrap_or("default")));
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"prepare", &"pack", &src, &out, &"--max-side", &"48"];
        if let Some(chroma) = &extra {
            args.extend_from_slice(&[&"--chroma", chroma]);
        }
        let o = lgd(&args);
        assert!(o.status.success(), "{}", text(&o));
        let data = PackedDataset::open(&out).unwrap();
        for i in 0..data.len() {
            assert_eq!(
                sampling_factors(data.get(i).unwrap().0),
                Some(vec![luma, (1, 1), (1, 1)]),
                "{extra:?}: sample {i}"
            );
        }
        let o = lgd(&[&"bench", &"data", &"--data", &out, &"--images", &"4"]);
        assert!(o.status.success() && text(&o).contains("packed dataset: 1 threads, 4 images"), "{}", text(&o));
    }
    let o = lgd(&[&"prepare", &"pack", &src, &dir.join("bad"), &"--chroma", &"422"]);
    assert_eq!(o.status.code(), Some(2), "clap refuses an unknown chroma: {}", text(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_source_and_non_pack_folders_are_named() {
    let dir = support::scratch("prepare-errors");
    let o = lgd(&[&"prepare", &"pack", &dir.join("nope"), &dir.join("out")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains(&format!("{}: cannot read the dataset folder", dir.join("nope").display())),
        "{}",
        text(&o)
    );
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    let o = lgd(&[&"prepare", &"pack", &dir.join("empty"), &dir.join("out")]);
    assert!(text(&o).contains("no class folders"), "{}", text(&o));
    let o = lgd(&[&"prepare", &"verify", &dir.join("empty")]);
    assert!(text(&o).contains("empty: not a packed dataset"), "{}", text(&o));
    let o = lgd(&[&"prepare", &"pack", &dir.join("empty"), &dir.join("out"), &"--shard-size", &"12Q"]);
    assert_eq!(o.status.code(), Some(2), "clap refuses a bad size: {}", text(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn idx_becomes_a_packed_dataset_or_an_image_folder() {
    let dir = support::scratch("prepare-idx");
    let pixels: Vec<u8> = (0..12 * 784).map(|i| (i % 253) as u8).collect();
    let labels: Vec<u8> = (0..12).map(|i| (i % 10) as u8).collect();
    let (images, label_file) = (dir.join("imgs-idx3-ubyte"), dir.join("labels-idx1-ubyte"));
    lgd_datasets::idx::write_idx(&images, &label_file, 28, 28, &pixels, &labels).unwrap();
    let o = lgd(&[&"prepare", &"idx", &images, &label_file, &dir.join("packed"), &"--classnames", &"fashion_mnist"]);
    assert!(o.status.success(), "{}", text(&o));
    let data = PackedDataset::open(&dir.join("packed")).unwrap();
    assert_eq!((data.len(), data.classes()[9].as_str()), (12, "Ankle boot"));
    assert_eq!(data.get(11).unwrap().1, 1);
    let o = lgd(&[
        &"prepare",
        &"idx",
        &images,
        &label_file,
        &dir.join("folder"),
        &"--classnames",
        &"fashion_mnist",
        &"--format",
        &"folder",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(dir.join("folder/0.T-shirt_top/00.png").is_file());
    let o = lgd(&[&"prepare", &"idx", &label_file, &images, &dir.join("x"), &"--classnames", &"fashion_mnist"]);
    assert!(text(&o).contains("labels-idx1-ubyte: not an IDX images file"), "{}", text(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn split_subset_and_classnames_commands_write_their_trees() {
    let dir = support::scratch("prepare-tools");
    let src = dir.join("cat");
    for (k, name) in ["001.ak47", "002.american-flag", "003.faces-easy-101"].iter().enumerate() {
        std::fs::create_dir_all(src.join(name)).unwrap();
        for i in 0..5 + k {
            std::fs::write(src.join(name).join(format!("{i}.jpg")), "x").unwrap();
        }
    }
    let o = lgd(&[
        &"prepare",
        &"caltech-split",
        &src,
        &dir.join("split"),
        &"--train-per-class",
        &"3",
        &"--classes",
        &"3",
        &"--seed",
        &"1",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!((log_field(&text(&o), "train"), log_field(&text(&o), "val")), (Some(9), Some(9)), "{}", text(&o));
    let o = lgd(&[
        &"prepare",
        &"imagenet-subset",
        &src,
        &dir.join("sub"),
        &"--per-class",
        &"2",
        &"--seed",
        &"1",
        &"--copy",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read_dir(dir.join("sub/002.american-flag")).unwrap().count(), 2);
    let o = lgd(&[&"prepare", &"classnames", &dir.join("split/train"), &"--out", &dir.join("names.txt")]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(dir.join("names.txt")).unwrap(), "ak47\namerican flag\nfaces easy\n");
    let o = lgd(&[
        &"prepare",
        &"caltech-split",
        &src,
        &dir.join("split"),
        &"--seed",
        &"1",
        &"--classes",
        &"3",
        &"--train-per-class",
        &"3",
    ]);
    assert!(text(&o).contains("split: the output folder is not empty"), "{}", text(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_class_left_empty_by_skipped_files_is_warned_of() {
    let dir = support::scratch("prepare-empty-class");
    let (src, out) = (dir.join("src"), dir.join("packed"));
    image_folder(&src, 2, 3);
    std::fs::create_dir_all(src.join("c2")).unwrap();
    std::fs::write(src.join("c2/only.jpg"), b"not an image").unwrap();
    let o = lgd(&[&"prepare", &"pack", &src, &out]);
    let log = text(&o);
    assert!(o.status.success(), "{log}");
    let warning = log.lines().find(|l| l.contains("class left empty")).unwrap_or_else(|| panic!("no warning:\n{log}"));
    assert!(warning.contains("\"class\":\"c2\"") && warning.contains("WARN"), "{warning}");
    assert_eq!(log.matches("class left empty").count(), 1, "c0 keeps its good files: {log}");
    let listed = std::fs::read_to_string(out.join("skipped.txt")).unwrap();
    assert_eq!(listed.lines().collect::<Vec<_>>().len(), 2, "c0/broken.jpg and c2/only.jpg: {listed}");
    assert!(listed.starts_with("c0/broken.jpg\t") && listed.contains("\nc2/only.jpg\tnot an image"), "{listed}");
    std::fs::remove_dir_all(&dir).unwrap();
}

//! The splits on small generated folders: right counts, disjoint and complete, seeded, and the
//! errors name the folder at fault.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::*;
use crate::image_folder::ImageFolder;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lgd-split-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Caltech-like: `001.class-1` … `257.clutter`, class k with 3 + k % 4 images (+ a stray file).
fn caltech(root: &Path) {
    for k in 1..=257 {
        let name = if k == 257 { "257.clutter".to_owned() } else { format!("{k:03}.class-{k}") };
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..3 + k % 4 {
            std::fs::write(dir.join(format!("{k:03}_{i:04}.jpg")), format!("{k}/{i}")).unwrap();
        }
        std::fs::write(dir.join("Thumbs.db"), "not an image").unwrap();
    }
}

fn listing(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for class in std::fs::read_dir(dir).unwrap().flatten() {
        for file in std::fs::read_dir(class.path()).unwrap().flatten() {
            out.insert(format!("{}/{}", class.file_name().to_string_lossy(), file.file_name().to_string_lossy()));
        }
    }
    out
}

#[test]
fn caltech_split_takes_the_first_256_classes_m_for_training_and_the_rest_for_validation() {
    let dir = scratch("caltech");
    let src = dir.join("256_ObjectCategories");
    caltech(&src);
    let summary = caltech_split(&src, &dir.join("a"), 256, 2, 7, Placement::Link).unwrap();
    let total: usize = (1..=256).map(|k| 3 + k % 4).sum();
    println!("caltech split: {} classes, {} train, {} val (of {total})", summary.classes, summary.train, summary.val);
    assert_eq!((summary.classes, summary.train, summary.val), (256, 512, total - 512));
    let train = ImageFolder::open(&dir.join("a/train")).unwrap();
    let val = ImageFolder::open(&dir.join("a/val")).unwrap();
    assert_eq!(train.classes().len(), 256);
    assert_eq!(train.classes(), val.classes());
    assert!(!train.classes().iter().any(|c| c.contains("clutter")));
    let (t, v) = (listing(&dir.join("a/train")), listing(&dir.join("a/val")));
    assert!(t.is_disjoint(&v));
    assert_eq!(t.len() + v.len(), total);
    // Links point at the absolute source and read as the source.
    let link = &train.samples()[0].0;
    let target = std::fs::read_link(link).unwrap();
    assert!(target.is_absolute() && target.starts_with(src.canonicalize().unwrap()), "{}", target.display());
    // Same seed, same split; another seed, another split; copies hold the same bytes.
    caltech_split(&src, &dir.join("b"), 256, 2, 7, Placement::Copy).unwrap();
    assert_eq!(listing(&dir.join("b/train")), t);
    assert!(std::fs::symlink_metadata(dir.join("b/train/001.class-1")).unwrap().is_dir());
    let copied = dir.join("b/train").join(link.strip_prefix(dir.join("a/train")).unwrap());
    assert!(!std::fs::symlink_metadata(&copied).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read(&copied).unwrap(), std::fs::read(link).unwrap());
    caltech_split(&src, &dir.join("c"), 256, 2, 8, Placement::Link).unwrap();
    assert_ne!(listing(&dir.join("c/train")), t);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn caltech_split_errors_name_the_folder_and_write_nothing() {
    let dir = scratch("caltech-errors");
    let src = dir.join("src");
    caltech(&src);
    // Class 4 has 3 + 0 = 3 images: not enough for 3 training images and a validation one.
    let e = caltech_split(&src, &dir.join("out"), 256, 3, 1, Placement::Link).unwrap_err().to_string();
    assert!(e.contains("004.class-4: 3 images, but 4 are needed"), "{e}");
    assert!(!dir.join("out").exists(), "nothing written when a class is short");
    let e = caltech_split(&src, &dir.join("out"), 300, 2, 1, Placement::Link).unwrap_err().to_string();
    assert!(e.contains("257 category folders, 300 needed"), "{e}");
    std::fs::create_dir_all(dir.join("full")).unwrap();
    std::fs::write(dir.join("full/x"), "").unwrap();
    let e = caltech_split(&src, &dir.join("full"), 256, 2, 1, Placement::Link).unwrap_err().to_string();
    assert!(e.contains("full: the output folder is not empty"), "{e}");
    let e = caltech_split(&dir.join("nope"), &dir.join("o"), 256, 2, 1, Placement::Link).unwrap_err().to_string();
    assert!(e.contains("nope: cannot read the source folder"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn imagenet_subset_takes_m_per_class_uniformly_and_reports_short_classes() {
    let dir = scratch("subset");
    let src = dir.join("train");
    for (class, n) in [("n01", 10), ("n02", 10), ("n03", 2)] {
        std::fs::create_dir_all(src.join(class)).unwrap();
        for i in 0..n {
            std::fs::write(src.join(class).join(format!("{class}_{i}.JPEG")), "x").unwrap();
        }
    }
    let summary = imagenet_subset(&src, &dir.join("sub"), 4, 3, Placement::Link).unwrap();
    assert_eq!((summary.classes, summary.train, summary.val), (3, 10, 0));
    assert_eq!(summary.short_classes, vec![("n03".to_owned(), 2)]);
    let folder = ImageFolder::open(&dir.join("sub")).unwrap();
    assert_eq!(folder.samples().len(), 10);
    let again = imagenet_subset(&src, &dir.join("sub2"), 4, 3, Placement::Link).unwrap();
    assert_eq!(again, summary);
    assert_eq!(listing(&dir.join("sub2")), listing(&dir.join("sub")));
    // Over 2,000 seeds each of 10 files is drawn 4/10 of the time (binomial sd ~1.1 %).
    let mut hits = [0usize; 10];
    for seed in 0..2000 {
        for i in choose(10, 4, seed, 0) {
            hits[i] += 1;
        }
    }
    let rates: Vec<f64> = hits.iter().map(|&h| h as f64 / 2000.0).collect();
    println!("subset: per-file selection rates over 2000 seeds {rates:.3?} (expected 0.400)");
    assert!(rates.iter().all(|r| (r - 0.4).abs() < 0.05), "{rates:?}");
    // Class streams are independent: class 1's choice does not follow class 0's.
    assert_ne!(
        (0..20).map(|s| choose(10, 4, s, 0)).collect::<Vec<_>>(),
        (0..20).map(|s| choose(10, 4, s, 1)).collect::<Vec<_>>()
    );
    let e = imagenet_subset(&src, &dir.join("z"), 0, 3, Placement::Link).unwrap_err().to_string();
    assert!(e.contains("--per-class"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

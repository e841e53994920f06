//! Behaviour of build, read and verify together, on small generated image folders.

use std::path::{Path, PathBuf};

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};

use super::format::INDEX_FILE;
use super::journal::PROGRESS_DIR;
use super::jpeg::encode_jpeg;
use super::*;
use crate::decode::{decode, DecodeOptions};
use crate::rgb::RgbImage;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lgd-packed-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A deterministic test picture (a gradient with a per-image twist).
pub(crate) fn picture(w: usize, h: usize, seed: usize) -> RgbImage {
    let data = (0..w * h)
        .flat_map(|i| {
            let (x, y) = (i % w, i / w);
            [(x * 255 / w) as u8, (y * 255 / h) as u8, ((x + y + seed * 37) % 256) as u8]
        })
        .collect();
    RgbImage::from_raw(w, h, data).unwrap()
}

fn png(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(img.as_raw(), img.width() as u32, img.height() as u32, ExtendedColorType::Rgb8)
        .unwrap();
    out
}

/// `classes` × `per_class` images alternating JPEG and PNG, sizes varying, plus three bad files
/// in the first class: empty, not an image, truncated JPEG.
fn image_folder(root: &Path, classes: usize, per_class: usize) -> usize {
    for c in 0..classes {
        let dir = root.join(format!("class{c}"));
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..per_class {
            let img = picture(40 + 7 * i, 30 + 5 * c, c * 100 + i);
            if i % 2 == 0 {
                std::fs::write(dir.join(format!("img{i:03}.jpg")), encode_jpeg(&img, 90, Chroma::Yuv420).unwrap())
                    .unwrap();
            } else {
                std::fs::write(dir.join(format!("img{i:03}.png")), png(&img)).unwrap();
            }
        }
    }
    let first = root.join("class0");
    std::fs::write(first.join("bad0_empty.jpg"), b"").unwrap();
    std::fs::write(first.join("bad1_text.png"), b"this is not a picture").unwrap();
    let jpeg = encode_jpeg(&picture(64, 64, 1), 90, Chroma::Yuv420).unwrap();
    std::fs::write(first.join("bad2_truncated.jpg"), &jpeg[..jpeg.len() / 3]).unwrap();
    3
}

fn options(shard_size: u64) -> PackOptions {
    PackOptions { shard_size, threads: 2, ..Default::default() }
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
fn a_pack_returns_every_good_file_byte_for_byte_and_lists_the_bad_ones() {
    let dir = scratch("roundtrip");
    let (src, out) = (dir.join("src"), dir.join("out"));
    let bad = image_folder(&src, 3, 6);
    let source = FolderSource::open(&src).unwrap();
    let mut last = None;
    let summary = pack(&source, &out, &options(20_000), &mut |p| last = Some(p)).unwrap();
    assert_eq!(last, Some(Progress { done: 21, total: 21, skipped: 3 }));
    assert_eq!((summary.samples, summary.skipped.len()), (18, bad));
    let skipped: Vec<&str> = summary.skipped.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(skipped, ["class0/bad0_empty.jpg", "class0/bad1_text.png", "class0/bad2_truncated.jpg"]);
    assert!(summary.skipped[2].reason.contains("class0/bad2_truncated.jpg"), "{}", summary.skipped[2].reason);
    assert!(summary.shards > 1, "20 kB shards should split 18 images: {summary:?}");
    assert!(!out.join(PROGRESS_DIR).exists());
    let listed = std::fs::read_to_string(out.join("skipped.txt")).unwrap();
    assert_eq!(listed.lines().count(), 3);

    let data = PackedDataset::open(&out).unwrap();
    println!(
        "packed {} samples into {} shards ({} bytes), skipped {}",
        data.len(),
        data.shard_count(),
        summary.bytes,
        bad
    );
    assert_eq!(data.len(), 18);
    assert_eq!(data.classes(), ["class0", "class1", "class2"]);
    let folder = crate::image_folder::ImageFolder::open(&src).unwrap();
    let good: Vec<&(PathBuf, u32)> =
        folder.samples().iter().filter(|(p, _)| !p.to_string_lossy().contains("bad")).collect();
    for (i, (path, label)) in good.iter().enumerate() {
        let (bytes, got_label) = data.get(i).unwrap();
        assert_eq!(bytes, std::fs::read(path).unwrap(), "sample {i}");
        assert_eq!(got_label, *label);
        assert_eq!(data.path(i).unwrap(), path.strip_prefix(&src).unwrap().to_string_lossy());
        assert!(data.get_checked(i).unwrap().is_some());
    }
    assert!(matches!(data.get(18), Err(PackError::OutOfRange { index: 18, len: 18 })));
    let report = verify(&out, &mut |_, _| {}).unwrap();
    assert!(report.is_ok() && report.samples == 18);
    let again = pack(&source, &out, &options(20_000), &mut |_| {}).unwrap_err();
    assert!(matches!(again, PackError::AlreadyPacked { .. }), "{again}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_interrupted_pack_resumes_to_the_same_bytes_as_an_uninterrupted_one() {
    let dir = scratch("resume");
    let src = dir.join("src");
    image_folder(&src, 4, 8);
    let source = FolderSource::open(&src).unwrap();
    let whole = dir.join("whole");
    pack(&source, &whole, &options(15_000), &mut |_| {}).unwrap();
    // Stop at several points: before the first shard closes, just after one, mid-way, at the end.
    for stops in [vec![3], vec![14, 9], vec![1, 1, 1, 30]] {
        let out = dir.join(format!("out-{stops:?}"));
        let mut progress_starts = Vec::new();
        for &stop in &stops {
            let opts = PackOptions { stop_after: Some(stop), ..options(15_000) };
            let mut first = None;
            match pack(&source, &out, &opts, &mut |p| {
                first.get_or_insert(p.done);
            }) {
                Err(PackError::Interrupted { processed }) => assert_eq!(processed, stop),
                other => panic!("expected an interruption after {stop}, got {other:?}"),
            }
            progress_starts.push(first.unwrap());
            assert!(!out.join(INDEX_FILE).exists(), "no index before the end");
            let e = PackedDataset::open(&out).unwrap_err().to_string();
            assert!(e.contains("unfinished pack"), "{e}");
        }
        let summary = pack(&source, &out, &options(15_000), &mut |_| {}).unwrap();
        println!(
            "stops {stops:?}: runs started at samples {progress_starts:?}, last resumed at {}",
            summary.resumed_at
        );
        assert!(summary.resumed_at > 0 || stops == [3], "finished shards are kept: {summary:?}");
        assert_eq!(summary.skipped.len(), 3, "skips of resumed shards are still listed");
        assert_eq!(files(&out), files(&whole), "stops {stops:?}");
    }
    // Resuming with other options is refused, naming the option.
    let out = dir.join("mismatch");
    let opts = PackOptions { stop_after: Some(5), ..options(15_000) };
    assert!(pack(&source, &out, &opts, &mut |_| {}).is_err());
    let e = pack(&source, &out, &options(16_000), &mut |_| {}).unwrap_err().to_string();
    assert!(e.contains("shard_size = 15000, now 16000"), "{e}");
    // So is resuming after the source changed.
    std::fs::write(src.join("class1/extra.png"), png(&picture(20, 20, 9))).unwrap();
    let changed = FolderSource::open(&src).unwrap();
    let e = pack(&changed, &out, &options(15_000), &mut |_| {}).unwrap_err().to_string();
    assert!(e.contains("source_samples = 35, now 36"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn verify_names_damaged_samples_by_index_and_original_path() {
    let dir = scratch("verify");
    let (src, out) = (dir.join("src"), dir.join("out"));
    image_folder(&src, 2, 5);
    let source = FolderSource::open(&src).unwrap();
    pack(&source, &out, &options(1 << 20), &mut |_| {}).unwrap();
    let data = PackedDataset::open(&out).unwrap();
    let victim = 4;
    let record = data.record(victim).unwrap();
    let (victim_path, last_path) = (data.path(victim).unwrap(), data.path(data.len() - 1).unwrap());
    drop(data);
    let shard = out.join("shard-00000.bin");
    let mut bytes = std::fs::read(&shard).unwrap();
    bytes[record.offset as usize + 10] ^= 0xFF;
    std::fs::write(&shard, &bytes).unwrap();
    let report = verify(&out, &mut |_, _| {}).unwrap();
    assert_eq!(report.bad.len(), 1);
    assert_eq!((report.bad[0].index, report.bad[0].path.as_str()), (victim, victim_path.as_str()));
    assert!(report.bad[0].problem.contains("checksum mismatch"));
    // Truncation: the strict reader refuses, verify names the lost samples.
    std::fs::write(&shard, &bytes[..bytes.len() - 5]).unwrap();
    let e = PackedDataset::open(&out).unwrap_err().to_string();
    assert!(e.contains("shard-00000.bin: shard is") && e.contains("truncated"), "{e}");
    let report = verify(&out, &mut |_, _| {}).unwrap();
    assert_eq!(report.bad_shards.len(), 1);
    let lost = report.bad.last().unwrap();
    assert_eq!(lost.path, last_path);
    assert!(lost.problem.contains("truncated"), "{}", lost.problem);
    // A damaged index is an error naming it.
    let index = out.join(INDEX_FILE);
    let mut idx = std::fs::read(&index).unwrap();
    let at = idx.len() - 3;
    idx[at] ^= 1;
    std::fs::write(&index, &idx).unwrap();
    let e = verify(&out, &mut |_, _| {}).unwrap_err().to_string();
    assert!(e.contains("index.lgdpack: the index body is corrupt"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reencoding_caps_the_side_and_shrinks_the_pack() {
    let dir = scratch("reencode");
    let src = dir.join("src/only");
    std::fs::create_dir_all(&src).unwrap();
    for i in 0..4 {
        std::fs::write(src.join(format!("{i}.png")), png(&picture(300 + 10 * i, 200, i))).unwrap();
    }
    let source = FolderSource::open(&dir.join("src")).unwrap();
    let original = pack(&source, &dir.join("orig"), &options(1 << 20), &mut |_| {}).unwrap();
    let opts = PackOptions {
        encoding: Encoding::Jpeg { max_side: 64, quality: 85, chroma: Chroma::Yuv420 },
        ..options(1 << 20)
    };
    let small = pack(&source, &dir.join("small"), &opts, &mut |_| {}).unwrap();
    println!("4 PNGs ~300x200: original {} bytes, JPEG q85 max side 64: {} bytes", original.bytes, small.bytes);
    assert!(small.bytes * 5 < original.bytes);
    let data = PackedDataset::open(&dir.join("small")).unwrap();
    assert_eq!(data.encoding(), Encoding::Jpeg { max_side: 64, quality: 85, chroma: Chroma::Yuv420 });
    for i in 0..4 {
        let img = decode(data.get(i).unwrap().0, Path::new("x"), &DecodeOptions::default()).unwrap();
        assert_eq!(img.width(), 64, "sample {i}");
        assert_eq!(img.height(), (200.0 * 64.0 / (300.0 + 10.0 * i as f64)).round() as usize);
    }
    let bad =
        PackOptions { encoding: Encoding::Jpeg { max_side: 0, quality: 0, chroma: Chroma::Yuv420 }, ..options(1) };
    let e = pack(&source, &dir.join("bad"), &bad, &mut |_| {}).unwrap_err().to_string();
    assert!(e.contains("--quality"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_or_empty_sources_are_clear_errors() {
    let dir = scratch("missing");
    let e = FolderSource::open(&dir.join("nope")).unwrap_err().to_string();
    assert!(e.contains("nope") && e.contains("cannot read the dataset folder"), "{e}");
    std::fs::create_dir_all(dir.join("src/a")).unwrap();
    std::fs::write(dir.join("src/a/x.jpg"), b"").unwrap();
    let source = FolderSource::open(&dir.join("src")).unwrap();
    let e = pack(&source, &dir.join("out"), &options(100), &mut |_| {}).unwrap_err().to_string();
    assert!(e.contains("none of the 1 samples could be packed") && e.contains("a/x.jpg"), "{e}");
    let e = PackedDataset::open(&dir.join("src")).unwrap_err().to_string();
    assert!(e.contains("not a packed dataset"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn images_over_the_pixel_limit_are_skipped_by_the_bomb_guard_not_packed() {
    let dir = scratch("bomb");
    let src = dir.join("src/c");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("big.png"), png(&picture(100, 100, 0))).unwrap();
    std::fs::write(src.join("small.png"), png(&picture(20, 20, 1))).unwrap();
    let source = FolderSource::open(&dir.join("src")).unwrap();
    let opts = PackOptions { decode: DecodeOptions { max_pixels: 1000 }, ..options(1 << 20) };
    let summary = pack(&source, &dir.join("out"), &opts, &mut |_| {}).unwrap();
    assert_eq!(summary.samples, 1);
    assert_eq!(summary.skipped.len(), 1);
    assert!(
        summary.skipped[0].reason.contains("c/big.png") && summary.skipped[0].reason.contains("decompression-bomb"),
        "{:?}",
        summary.skipped
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

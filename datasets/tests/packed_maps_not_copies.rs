//! A packed dataset is read through memory maps: touching every sample of a 48 MB pack must not
//! grow the process's anonymous (heap) memory — the bytes live in the page cache, shared by every
//! worker, and count as file-backed. A reader that copied shards into memory fails this.
//! Its own test binary, so no other test allocates while it measures.
#![cfg(target_os = "linux")]

use std::path::PathBuf;

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};
use lgd_datasets::packed::{pack, FolderSource, PackOptions, PackedDataset};

/// RssAnon and RssFile of this process, in kB.
fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from /proc/self/status"))
    };
    (field("RssAnon:"), field("RssFile:"))
}

#[test]
fn reading_every_sample_keeps_heap_memory_flat() {
    let dir = std::env::temp_dir().join(format!("lgd-packed-mmap-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let src: PathBuf = dir.join("src/noise");
    std::fs::create_dir_all(&src).unwrap();
    // Noise does not compress: 16 PNGs of 1024x1024 RGB are ~3 MB each.
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut pixels = vec![0u8; 1024 * 1024 * 3];
    for i in 0..16 {
        for p in pixels.iter_mut() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *p = (state >> 32) as u8;
        }
        let mut png = Vec::new();
        PngEncoder::new(&mut png).write_image(&pixels, 1024, 1024, ExtendedColorType::Rgb8).unwrap();
        std::fs::write(src.join(format!("{i:02}.png")), png).unwrap();
    }
    drop(pixels);
    let out = dir.join("packed");
    let source = FolderSource::open(&dir.join("src")).unwrap();
    pack(&source, &out, &PackOptions { shard_size: 16 << 20, threads: 2, ..Default::default() }, &mut |_| {}).unwrap();

    let (anon_before, file_before) = rss();
    let data = PackedDataset::open(&out).unwrap();
    let mut total = 0u64;
    let mut checksum = 0u64;
    for i in 0..data.len() {
        let (bytes, _) = data.get_checked(i).unwrap().expect("checksum");
        total += bytes.len() as u64;
        checksum = checksum.wrapping_add(bytes.iter().step_by(4096).map(|&b| u64::from(b)).sum::<u64>());
    }
    let (anon_after, file_after) = rss();
    println!(
        "read {} samples, {} MB: RssAnon {anon_before} -> {anon_after} kB, RssFile {file_before} -> {file_after} kB (checksum {checksum})",
        data.len(),
        total >> 20
    );
    assert!(total > 40 << 20, "the pack should hold ~48 MB, has {total}");
    assert!(anon_after.saturating_sub(anon_before) < 4 * 1024, "heap grew by {} kB", anon_after - anon_before);
    assert!(file_after > file_before + (total >> 10) / 2, "the bytes should be file-backed (mapped)");
    drop(data);
    std::fs::remove_dir_all(&dir).unwrap();
}

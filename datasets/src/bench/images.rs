//! A deterministic folder of ImageNet-like JPEGs for benchmarks (`lgd bench make-images`).
//!
//! The decode and resize costs depend on the pixel count and on how much detail the JPEG holds,
//! so the images imitate ImageNet's training set in both: sizes uniform in 300–640 × 240–500
//! (ImageNet's typical 500×375/375×500 photos lie inside), and content that compresses like a
//! photo at quality 90 (~100 KB at ImageNet's mean size): smooth illumination, a dozen soft-edged
//! objects, a fine texture and sensor-like noise. Everything comes from a ChaCha stream keyed by
//! (seed, image index), so two machines generate byte-identical folders and the Rust benchmark
//! and its Python twin read the same files.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Why the folder could not be written. Every variant names the path at fault.
#[derive(Debug, thiserror::Error)]
pub enum ImagesError {
    /// A folder or file could not be written.
    #[error("{path}: cannot write: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The JPEG encoder failed.
    #[error("{path}: cannot encode the JPEG: {source}")]
    Encode {
        /// The file.
        path: PathBuf,
        /// The encoder's message.
        source: jpeg_encoder::EncodingError,
    },
}

/// Sizes and count of a generated folder.
#[derive(Debug, Clone, Copy)]
pub struct ImagesSummary {
    /// Files written.
    pub files: usize,
    /// Their total size in bytes.
    pub bytes: u64,
}

/// Number of class folders (`class_00` …); images are dealt round-robin.
pub const CLASSES: usize = 10;

/// JPEG quality of the generated files (ImageNet's photos are mostly 75–95).
const QUALITY: u8 = 90;

/// Writes `count` JPEGs under `out/class_XX/img_XXXXXX.jpg`, determined by `seed`, on every core
/// (each image has its own stream, so the files do not depend on the number of threads).
pub fn make_images(out: &Path, count: usize, seed: u64) -> Result<ImagesSummary, ImagesError> {
    let dirs: Vec<PathBuf> = (0..CLASSES.min(count)).map(|c| out.join(format!("class_{c:02}"))).collect();
    for dir in &dirs {
        std::fs::create_dir_all(dir).map_err(|source| ImagesError::Io { path: dir.clone(), source })?;
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(count.max(1));
    let next = AtomicUsize::new(0);
    let written: Vec<Result<u64, ImagesError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut bytes = 0u64;
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= count {
                            return Ok(bytes);
                        }
                        let path = dirs[i % CLASSES].join(format!("img_{i:06}.jpg"));
                        bytes += write_image(&path, seed, i).inspect_err(|_| next.store(count, Ordering::Relaxed))?;
                    }
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("an image writer panicked")).collect()
    });
    let mut bytes = 0u64;
    for result in written {
        bytes += result?;
    }
    Ok(ImagesSummary { files: count, bytes })
}

/// Image `index` of the folder made from `seed`, encoded and written to `path`; returns its size.
fn write_image(path: &Path, seed: u64, index: usize) -> Result<u64, ImagesError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index as u64);
    let (w, h) = (rng.gen_range(300..=640usize), rng.gen_range(240..=500usize));
    let pixels = synthesize(w, h, &mut rng);
    let mut jpeg = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut jpeg, QUALITY);
    // ImageNet's photos are almost all 4:2:0 (camera and libjpeg defaults); the chroma
    // resolution changes the decode cost, so the benchmark files use it too.
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    encoder
        .encode(&pixels, w as u16, h as u16, jpeg_encoder::ColorType::Rgb)
        .map_err(|source| ImagesError::Encode { path: path.to_path_buf(), source })?;
    std::fs::write(path, &jpeg).map_err(|source| ImagesError::Io { path: path.to_path_buf(), source })?;
    Ok(jpeg.len() as u64)
}

/// One soft-edged ellipse: centre, radii, colour, edge softness.
struct Blob {
    cx: f32,
    cy: f32,
    rx: f32,
    ry: f32,
    colour: [f32; 3],
    soft: f32,
}

/// The pixels (RGB, row-major) of one photo-like image.
fn synthesize(w: usize, h: usize, rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut col = || [rng.gen_range(20.0..235.0f32), rng.gen_range(20.0..235.0), rng.gen_range(20.0..235.0)];
    let (top, bottom) = (col(), col());
    let blobs: Vec<Blob> = (0..rng.gen_range(6..16))
        .map(|_| Blob {
            cx: rng.gen_range(0.0..w as f32),
            cy: rng.gen_range(0.0..h as f32),
            rx: rng.gen_range(15.0..w as f32 / 3.0),
            ry: rng.gen_range(15.0..h as f32 / 3.0),
            colour: [rng.gen_range(0.0..255.0), rng.gen_range(0.0..255.0), rng.gen_range(0.0..255.0)],
            soft: rng.gen_range(0.02..0.3),
        })
        .collect();
    // Texture: a few oriented sinusoids (fabric, foliage, fur at photo scale).
    let waves: Vec<(f32, f32, f32, f32)> = (0..4)
        .map(|_| {
            let angle = rng.gen_range(0.0..std::f32::consts::PI);
            let freq = rng.gen_range(0.05..0.6f32);
            (angle.cos() * freq, angle.sin() * freq, rng.gen_range(0.0..6.3), rng.gen_range(5.0..16.0))
        })
        .collect();
    let noise = rng.gen_range(22.0..36.0f32);
    let mut out = vec![0u8; w * h * 3];
    for y in 0..h {
        let t = y as f32 / h as f32;
        for x in 0..w {
            let mut c: [f32; 3] = std::array::from_fn(|k| top[k] + (bottom[k] - top[k]) * t);
            for b in &blobs {
                let (dx, dy) = ((x as f32 - b.cx) / b.rx, (y as f32 - b.cy) / b.ry);
                let d = (dx * dx + dy * dy).sqrt();
                // 1 inside, 0 outside, a linear ramp of width `soft` across the edge.
                let a = ((1.0 - d) / b.soft).clamp(0.0, 1.0);
                for (channel, &target) in c.iter_mut().zip(&b.colour) {
                    *channel += a * (target - *channel);
                }
            }
            let tex: f32 =
                waves.iter().map(|&(fx, fy, ph, amp)| amp * (fx * x as f32 + fy * y as f32 + ph).sin()).sum();
            let o = (y * w + x) * 3;
            for (dst, &base) in out[o..o + 3].iter_mut().zip(&c) {
                let n: f32 = rng.gen_range(-noise..noise);
                *dst = (base + tex + n).clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_deterministic_and_decodable() {
        let dir = std::env::temp_dir().join(format!("lgd-make-images-{}", std::process::id()));
        let a = make_images(&dir.join("a"), 3, 5).unwrap();
        let b = make_images(&dir.join("b"), 3, 5).unwrap();
        assert_eq!(a.bytes, b.bytes);
        let f = |s: &str| std::fs::read(dir.join(s).join("class_01/img_000001.jpg")).unwrap();
        assert_eq!(f("a"), f("b"));
        let img = crate::decode::decode(&f("a"), Path::new("x.jpg"), &Default::default()).unwrap();
        assert!((300..=640).contains(&img.width()) && (240..=500).contains(&img.height()));
        // The threads share out the indices, but each file is what its index alone makes.
        let alone = dir.join("alone.jpg");
        for i in 0..3 {
            write_image(&alone, 5, i).unwrap();
            let made = std::fs::read(dir.join(format!("a/class_{i:02}/img_{i:06}.jpg"))).unwrap();
            assert_eq!(std::fs::read(&alone).unwrap(), made, "image {i}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_folder_that_cannot_be_made_is_named() {
        let dir = std::env::temp_dir().join(format!("lgd-make-images-blocked-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("class_00"), b"a file in the way").unwrap();
        let error = make_images(&dir, 4, 0).unwrap_err().to_string();
        assert!(error.contains("class_00") && error.contains("cannot write"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

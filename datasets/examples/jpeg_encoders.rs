//! The measurement behind the pack re-encoder's choice (ARCHITECTURE.md, "Re-encoding a pack"):
//! the JPEG encoders at hand, on one thread, over the images a pack would re-encode — each file
//! decoded and shrunk as `lgd prepare pack --max-side N` does, then encoded by each encoder in
//! turn. Prints per encoder the mean encode time per image and the total bytes, and, for the
//! stages before it, the decode time of the two decoders at hand.
//!
//! Usage: cargo run --release -p lgd-datasets --example jpeg_encoders -- FOLDER [MAX_SIDE] [QUALITY]
//! (FOLDER: an image folder such as `lgd bench make-images` writes; 512 and 90 by default.)

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lgd_datasets::augment::resize::resized_crop;
use lgd_datasets::augment::CropBox;
use lgd_datasets::decode::jpeg_region::decode_jpeg_region;
use lgd_datasets::decode::{decode, DecodeOptions};
use lgd_datasets::image_folder::ImageFolder;
use lgd_datasets::packed::encode::capped_size;
use lgd_datasets::packed::jpeg::encode_jpeg;
use lgd_datasets::packed::Chroma;
use lgd_datasets::RgbImage;

type Encoder = fn(&RgbImage, u8) -> Vec<u8>;

fn image_crate(img: &RgbImage, q: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let mut e = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, q);
    e.encode(img.as_raw(), img.width() as u32, img.height() as u32, image::ExtendedColorType::Rgb8)
        .expect("image encodes");
    out
}

fn jpeg_encoder_crate(img: &RgbImage, q: u8, factor: jpeg_encoder::SamplingFactor) -> Vec<u8> {
    let mut out = Vec::new();
    let mut e = jpeg_encoder::Encoder::new(&mut out, q);
    e.set_sampling_factor(factor);
    e.encode(img.as_raw(), img.width() as u16, img.height() as u16, jpeg_encoder::ColorType::Rgb)
        .expect("jpeg-encoder encodes");
    out
}

fn main() {
    let mut args = std::env::args().skip(1);
    let folder = PathBuf::from(args.next().expect("usage: jpeg_encoders FOLDER [MAX_SIDE] [QUALITY]"));
    let max_side: usize = args.next().map_or(512, |s| s.parse().expect("MAX_SIDE is a number"));
    let quality: u8 = args.next().map_or(90, |s| s.parse().expect("QUALITY is a number"));
    let encoders: [(&str, Encoder); 5] = [
        ("image 0.25 (4:4:4 only; the encoder before)", image_crate),
        ("jpeg-encoder 0.6, 4:4:4", |i, q| jpeg_encoder_crate(i, q, jpeg_encoder::SamplingFactor::R_4_4_4)),
        ("jpeg-encoder 0.6, 4:2:0", |i, q| jpeg_encoder_crate(i, q, jpeg_encoder::SamplingFactor::R_4_2_0)),
        ("libjpeg-turbo (mozjpeg-sys), 4:4:4", |i, q| encode_jpeg(i, q, Chroma::Yuv444).expect("libjpeg encodes")),
        ("libjpeg-turbo (mozjpeg-sys), 4:2:0", |i, q| encode_jpeg(i, q, Chroma::Yuv420).expect("libjpeg encodes")),
    ];
    let files: Vec<(PathBuf, u32)> = ImageFolder::open(&folder).expect("an image folder").samples().to_vec();
    let (mut zune, mut turbo, mut resize) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut time = vec![Duration::ZERO; encoders.len()];
    let mut bytes = vec![0u64; encoders.len()];
    let mut source_bytes = 0u64;
    for (path, _) in &files {
        let raw = std::fs::read(path).expect("readable");
        source_bytes += raw.len() as u64;
        let t = Instant::now();
        let img = decode(&raw, Path::new(path), &DecodeOptions::default()).expect("decodes");
        zune += t.elapsed();
        let whole = CropBox { top: 0, left: 0, height: img.height(), width: img.width() };
        let t = Instant::now();
        // An output side of the whole image keeps the DCT scale at 1 (full size).
        let _ = decode_jpeg_region(&raw, whole, img.width().max(img.height())).expect("libjpeg-turbo decodes");
        turbo += t.elapsed();
        let t = Instant::now();
        let (w, h) = capped_size(img.width(), img.height(), max_side);
        let img = if (w, h) == (img.width(), img.height()) { img } else { resized_crop(&img, whole, w, h) };
        resize += t.elapsed();
        for (k, (_, encode)) in encoders.iter().enumerate() {
            let t = Instant::now();
            let out = encode(&img, quality);
            time[k] += t.elapsed();
            bytes[k] += out.len() as u64;
        }
    }
    let n = files.len().max(1) as f64;
    let ms = |d: Duration| 1e3 * d.as_secs_f64() / n;
    println!(
        "{} files, {:.1} MB, max side {max_side}, quality {quality}, one thread",
        files.len(),
        source_bytes as f64 / 1e6
    );
    println!(
        "decode: image/zune-jpeg {:.2} ms, libjpeg-turbo {:.2} ms; resize {:.2} ms (per image)",
        ms(zune),
        ms(turbo),
        ms(resize)
    );
    for (k, (name, _)) in encoders.iter().enumerate() {
        println!("{name:<44} {:>6.2} ms/image {:>8.1} MB", ms(time[k]), bytes[k] as f64 / 1e6);
    }
}

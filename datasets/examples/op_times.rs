//! Per-operation cost on a 224×224 view (development aid: where a worker's time goes).
//!
//! Usage: cargo run -p lgd-datasets --release --example op_times -- FILE

use std::path::Path;
use std::time::Instant;

use lgd_datasets::augment::normalize::{to_tensor_normalized_into, CLIP_MEAN, CLIP_STD};
use lgd_datasets::augment::{blur, enhance, grayscale, hue, resize, CropBox};
use lgd_datasets::decode::{decode, DecodeOptions};
use lgd_datasets::RgbImage;

fn time(name: &str, img: &RgbImage, f: impl Fn(&mut RgbImage)) {
    let n = 200;
    let t = Instant::now();
    for _ in 0..n {
        let mut v = img.clone();
        f(&mut v);
    }
    println!("{name:<12} {:.3} ms", 1e3 * t.elapsed().as_secs_f64() / f64::from(n));
}

fn main() {
    let Some(file) = std::env::args().nth(1) else {
        eprintln!("usage: op_times FILE");
        std::process::exit(2);
    };
    let bytes = std::fs::read(&file).expect("readable file");
    let img = decode(&bytes, Path::new(&file), &DecodeOptions::default()).expect("decodable image");
    let whole = CropBox { top: 0, left: 0, height: img.height(), width: img.width() };
    let view = resize::resized_crop(&img, whole, 224, 224);
    time("resize", &img, |v| *v = resize::resized_crop(v, whole, 224, 224));
    time("brightness", &view, |v| enhance::adjust_brightness(v, 1.2));
    time("contrast", &view, |v| enhance::adjust_contrast(v, 1.2));
    time("saturation", &view, |v| enhance::adjust_saturation(v, 1.2));
    time("hue", &view, |v| hue::adjust_hue(v, 0.05));
    time("grayscale", &view, grayscale::to_grayscale);
    time("blur", &view, |v| blur::gaussian_blur(v, 1.5));
    let mut planes = vec![0.0; 3 * 224 * 224];
    let t = Instant::now();
    for _ in 0..200 {
        to_tensor_normalized_into(&view, CLIP_MEAN, CLIP_STD, &mut planes);
    }
    println!("{:<12} {:.3} ms", "normalize", 1e3 * t.elapsed().as_secs_f64() / 200.0);
}

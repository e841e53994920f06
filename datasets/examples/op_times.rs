//! Per-operation cost on a 224×224 view (development aid: where a worker's time goes), and of
//! reading the header, the full decode and a typical crop window's decode of FILE ("Hf": with
//! libjpeg-turbo's own Huffman decoder instead of `decode::huffman`).
//!
//! Usage: cargo run -p lgd-datasets --release --example op_times -- FILE

use std::path::Path;
use std::time::Instant;

use lgd_datasets::augment::normalize::{to_tensor_normalized_into, CLIP_MEAN, CLIP_STD};
use lgd_datasets::augment::{
    blur, enhance, flip, grayscale, hue, resize, AugmentationConfig, Augmenter, CropBox, Workspace,
};
use lgd_datasets::decode::jpeg_region::{decode_jpeg_region, Entropy, JpegHeader};
use lgd_datasets::decode::{checked_dimensions, decode, DecodeOptions};
use lgd_datasets::RgbImage;

fn time(name: &str, img: &RgbImage, f: impl Fn(&mut RgbImage)) {
    let mut v = img.clone();
    time_call(name, || {
        v.as_raw_mut().copy_from_slice(img.as_raw());
        f(&mut v);
    });
}

/// The fastest of five rounds' mean time of `f` over 200 calls (the least disturbed by whatever
/// else runs on the machine).
fn time_call(name: &str, mut f: impl FnMut()) {
    let n = 200;
    let best = (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            t.elapsed().as_secs_f64() / f64::from(n)
        })
        .fold(f64::INFINITY, f64::min);
    println!("{name:<18} {:.3} ms", 1e3 * best);
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
    let path = Path::new(&file);
    time_call("header", || drop(checked_dimensions(&bytes, path, &DecodeOptions::default())));
    time_call("jpeg header", || drop(JpegHeader::read(&bytes)));
    let corner = CropBox { top: 0, left: 0, height: 16, width: 16 };
    time_call("jpeg corner", || drop(decode_jpeg_region(&bytes, corner, 16)));
    time_call("decode", || drop(decode(&bytes, path, &DecodeOptions::default())));
    // A typical training crop: the middle 60 % of each side, at scale 1.
    let (w, h) = (img.width(), img.height());
    let middle = CropBox { top: h / 5, left: w / 5, height: h * 3 / 5, width: w * 3 / 5 };
    time_call("window", || drop(decode_jpeg_region(&bytes, middle, 224)));
    // The same window with libjpeg-turbo's own Huffman decoder instead of `decode::huffman`.
    let with_libjpeg =
        |crop, side| JpegHeader::read(&bytes).and_then(|h| h.decode_window_with(crop, side, Entropy::Libjpeg));
    time_call("window, libjpeg Hf", || drop(with_libjpeg(middle, 224)));
    time_call("libjpeg", || drop(decode_jpeg_region(&bytes, whole, w.max(h))));
    time_call("libjpeg, its Hf", || drop(with_libjpeg(whole, w.max(h))));
    time_call("resize", || drop(resize::resized_crop(&img, whole, 224, 224)));
    time("brightness", &view, |v| enhance::adjust_brightness(v, 1.2));
    time("contrast", &view, |v| enhance::adjust_contrast(v, 1.2));
    time("saturation", &view, |v| enhance::adjust_saturation(v, 1.2));
    time("hue", &view, |v| hue::adjust_hue(v, 0.05));
    time("grayscale", &view, grayscale::to_grayscale);
    time("flip", &view, flip::hflip);
    time("blur", &view, |v| blur::gaussian_blur(v, 1.5));
    // A whole MoCo-v2 view (its blur drawn on), with a worker's buffers kept or made afresh.
    let augmenter = Augmenter::new(AugmentationConfig::default()).expect("the default recipe");
    let params = (0..).map(|i| augmenter.params_for(0, 0, i, w, h)).find(|p| p.blur_sigma.is_some()).unwrap();
    let (mut ws, mut out) = (Workspace::default(), RgbImage::new(0, 0));
    time_call("view kept", || augmenter.apply_into(&img, &params, &mut ws, &mut out));
    time_call("view afresh", || augmenter.apply_into(&img, &params, &mut Workspace::default(), &mut out));
    let mut planes = vec![0.0; 3 * 224 * 224];
    time_call("normalize", || to_tensor_normalized_into(&view, CLIP_MEAN, CLIP_STD, &mut planes));
}

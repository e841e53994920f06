//! `fast_decode` (the crop's window only, DCT-scaled when the crop is at least twice the view)
//! against the full-size path on real photos (scikit-image's, written as JPEGs by the decode
//! oracle in every layout): each view within a mean absolute difference of 4 levels and a PSNR
//! of 30 dB of the full path's, with the same parameters. Smaller views make the crops large
//! relative to them, so the 1/2, 1/4 and 1/8 scales are all exercised. At scale 1 the window is
//! libjpeg-turbo's pixels against zune-jpeg's (≤ 0.25 levels apart); a scaled IDCT is a sharper
//! low-pass than PIL's resize of the full image, which is what the remaining difference is.

mod common;

use std::path::Path;

use lgd_datasets::augment::{AugmentationConfig, Augmenter, Workspace};
use lgd_datasets::decode::{jpeg_region::dct_scale_for, DecodeOptions};
use lgd_datasets::training_view::decode_for_view;
use lgd_datasets::RgbImage;

/// Crop and flip only: what differs is the decode and the resize, not amplified by the jitter.
fn geometry_only(output_size: usize, fast_decode: bool) -> Augmenter {
    let config = AugmentationConfig {
        output_size,
        jitter_p: 0.0,
        grayscale_p: 0.0,
        blur_p: 0.0,
        fast_decode,
        ..Default::default()
    };
    Augmenter::new(config).unwrap()
}

#[test]
fn fast_decode_views_are_close_to_the_full_path() {
    let dir = common::scratch("fast-decode");
    common::run_oracle("decode.py", &[&dir]);
    let mut jpegs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    jpegs.sort();
    assert!(jpegs.len() >= 5, "the oracle wrote {} JPEGs", jpegs.len());
    let options = DecodeOptions::default();
    let mut scales = [0usize; 9];
    let mut failures = Vec::new();
    for path in &jpegs {
        let bytes = std::fs::read(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        for side in [224, 96, 40] {
            let (full, fast) = (geometry_only(side, false), geometry_only(side, true));
            let (mut worst_psnr, mut worst_mad, mut sum_mad) = (f64::INFINITY, 0f64, 0f64);
            for index in 0..24 {
                let key = (5, 0, index);
                let a = decode_for_view(&full, &bytes, Path::new(path), &options, key).unwrap();
                let b = decode_for_view(&fast, &bytes, Path::new(path), &options, key).unwrap();
                scales[dct_scale_for(a.params.crop, side)] += 1;
                let (mut va, mut vb) = (RgbImage::new(0, 0), RgbImage::new(0, 0));
                a.apply_into(&full, &mut Workspace::default(), &mut va);
                b.apply_into(&fast, &mut Workspace::default(), &mut vb);
                let (mad, psnr) = difference(va.as_raw(), vb.as_raw());
                worst_psnr = worst_psnr.min(psnr);
                worst_mad = worst_mad.max(mad);
                sum_mad += mad;
            }
            println!(
                "{name:<20} view {side:>3}: mean |diff| {:.3} on average, worst {worst_mad:.3}; worst PSNR {worst_psnr:.1} dB",
                sum_mad / 24.0
            );
            if worst_mad > 4.0 || worst_psnr < 30.0 {
                failures.push(format!("{name} at {side}: mean |diff| {worst_mad:.3}, PSNR {worst_psnr:.1} dB"));
            }
        }
    }
    println!("views per DCT scale 1/2/4/8: {} {} {} {}", scales[1], scales[2], scales[4], scales[8]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(scales[2] > 0 && scales[4] > 0 && scales[8] > 0, "every reduced scale is exercised: {scales:?}");
    assert!(failures.is_empty(), "fast decoding strays from the full path:\n{}", failures.join("\n"));
}

/// (mean absolute difference in levels, PSNR in dB).
fn difference(a: &[u8], b: &[u8]) -> (f64, f64) {
    assert_eq!(a.len(), b.len());
    let (mut abs, mut sq) = (0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        let d = f64::from(x) - f64::from(y);
        abs += d.abs();
        sq += d * d;
    }
    let n = a.len() as f64;
    let mse = sq / n;
    (abs / n, if mse == 0.0 { f64::INFINITY } else { 10.0 * (255.0 * 255.0 / mse).log10() })
}

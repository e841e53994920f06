//! Crop + resize with PIL's antialiased bilinear filter (`Image.resize(size, BILINEAR)`).
//!
//! torchvision's PIL path crops (`img.crop`) and then resizes the cropped image, so the filter
//! never reads outside the crop; we resize straight from the crop window without copying it.
//! PIL's algorithm, reproduced so that outputs agree to the byte:
//! - the triangle filter's support is scaled by the reduction factor (max(in/out, 1)), which is
//!   what makes downscaling antialiased;
//! - output pixel `o` is centred on input coordinate `(o + 0.5) · in/out`; taps whose centre falls
//!   outside the window are dropped and the rest renormalised (edges are not padded);
//! - weights are fixed point with 22 fractional bits, accumulation starts at one half (rounding)
//!   and the result is clamped to 0..=255;
//! - horizontal pass first into an 8-bit intermediate (only the rows the vertical pass reads), then
//!   the vertical pass. A pass whose size does not change is skipped (it would be the identity).
//!
//! Known difference: Pillow 13 runs the vertical pass *first* for some size combinations (mostly
//! when the vertical reduction is clearly the larger one; the exact rule is in its C code and was
//! not pinned down from black-box probing). The two orders differ only in the rounding of the 8-bit
//! intermediate: at most 1 level, on ~15 % of values, for those sizes (the oracle test prints it).

use super::CropBox;
use crate::rgb::RgbImage;

const PRECISION_BITS: u32 = 22;

/// Per-output-pixel taps of one axis: first input index, number of taps, and `ksize` weights.
struct Taps {
    bounds: Vec<(usize, usize)>,
    ksize: usize,
    weights: Vec<i32>,
}

fn triangle(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        1.0 - x
    } else {
        0.0
    }
}

fn taps(in_size: usize, out_size: usize) -> Taps {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filterscale; // the triangle's support is 1
    let ksize = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(out_size);
    let mut weights = vec![0i32; out_size * ksize];
    let mut row = vec![0f64; ksize];
    // PIL multiplies by the reciprocal rather than dividing; with rational scales (e.g. 8/7) many
    // sums land exactly on .5 before rounding, so the last bit of each weight decides the output.
    let inv_filterscale = 1.0 / filterscale;
    for o in 0..out_size {
        let center = (o as f64 + 0.5) * scale;
        // Truncation toward zero, then clamping, as PIL rounds the window ends.
        let lo = ((center - support + 0.5) as i64).max(0) as usize;
        let hi = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
        let n = hi.saturating_sub(lo).min(ksize);
        let mut total = 0.0;
        for (k, w) in row.iter_mut().enumerate().take(n) {
            *w = triangle((k as f64 + lo as f64 - center + 0.5) * inv_filterscale);
            total += *w;
        }
        for (k, w) in row.iter().enumerate().take(n) {
            let w = if total != 0.0 { w / total } else { *w };
            let fixed = w * f64::from(1u32 << PRECISION_BITS);
            weights[o * ksize + k] = if fixed < 0.0 { (fixed - 0.5) as i32 } else { (fixed + 0.5) as i32 };
        }
        bounds.push((lo, n));
    }
    Taps { bounds, ksize, weights }
}

#[inline]
fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Crops `crop` out of `img` and resizes it to `out_w`×`out_h` as PIL's bilinear resize does.
/// The crop must lie inside the image and be non-empty (callers build it from the image size).
pub fn resized_crop(img: &RgbImage, crop: CropBox, out_w: usize, out_h: usize) -> RgbImage {
    debug_assert!(crop.left + crop.width <= img.width() && crop.top + crop.height <= img.height());
    let (cw, ch) = (crop.width, crop.height);
    if out_w == 0 || out_h == 0 || cw == 0 || ch == 0 {
        return RgbImage::new(out_w, out_h);
    }
    let need_h = out_w != cw;
    let need_v = out_h != ch;
    let vt = taps(ch, out_h);
    // Rows of the crop that the vertical pass reads.
    let (first, last) = if need_v {
        let (lo, _) = vt.bounds[0];
        let (lo_end, n_end) = vt.bounds[out_h - 1];
        (lo, lo_end + n_end)
    } else {
        (0, ch)
    };
    let tmp_w = if need_h { out_w } else { cw };
    let mut tmp = vec![0u8; tmp_w * 3 * (last - first)];
    if need_h {
        let ht = taps(cw, out_w);
        for (y, out_row) in (first..last).zip(tmp.chunks_exact_mut(out_w * 3)) {
            let src = &img.row(crop.top + y)[crop.left * 3..(crop.left + cw) * 3];
            for (o, px) in out_row.chunks_exact_mut(3).enumerate() {
                let (lo, n) = ht.bounds[o];
                let k = &ht.weights[o * ht.ksize..o * ht.ksize + n];
                let mut acc = [1i32 << (PRECISION_BITS - 1); 3];
                for (t, &w) in k.iter().enumerate() {
                    let s = &src[(lo + t) * 3..(lo + t) * 3 + 3];
                    acc[0] += i32::from(s[0]) * w;
                    acc[1] += i32::from(s[1]) * w;
                    acc[2] += i32::from(s[2]) * w;
                }
                px.copy_from_slice(&acc.map(clip8));
            }
        }
    } else {
        for (y, out_row) in (first..last).zip(tmp.chunks_exact_mut(cw * 3)) {
            out_row.copy_from_slice(&img.row(crop.top + y)[crop.left * 3..(crop.left + cw) * 3]);
        }
    }
    if !need_v {
        return RgbImage::from_raw(tmp_w, out_h, tmp).expect("sizes computed above");
    }
    let stride = tmp_w * 3;
    let mut out = vec![0u8; stride * out_h];
    let mut acc = vec![0i32; stride];
    for (o, out_row) in out.chunks_exact_mut(stride).enumerate() {
        let (lo, n) = vt.bounds[o];
        acc.fill(1 << (PRECISION_BITS - 1));
        for t in 0..n {
            let w = vt.weights[o * vt.ksize + t];
            let src = &tmp[(lo + t - first) * stride..(lo + t - first + 1) * stride];
            for (a, &s) in acc.iter_mut().zip(src) {
                *a += i32::from(s) * w;
            }
        }
        for (d, &a) in out_row.iter_mut().zip(&acc) {
            *d = clip8(a);
        }
    }
    RgbImage::from_raw(tmp_w, out_h, out).expect("sizes computed above")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_size_is_a_plain_crop() {
        let data: Vec<u8> = (0..5 * 4 * 3).map(|v| v as u8).collect();
        let img = RgbImage::from_raw(5, 4, data).unwrap();
        let c = CropBox { top: 1, left: 2, height: 2, width: 3 };
        let out = resized_crop(&img, c, 3, 2);
        assert_eq!(out.pixel(0, 0), img.pixel(2, 1));
        assert_eq!(out.pixel(2, 1), img.pixel(4, 2));
    }

    #[test]
    fn flat_image_stays_flat_and_weights_sum_to_one() {
        let img = RgbImage::from_raw(37, 23, vec![200; 37 * 23 * 3]).unwrap();
        let out = resized_crop(&img, CropBox { top: 0, left: 0, height: 23, width: 37 }, 11, 50);
        assert!(out.as_raw().iter().all(|&v| v == 200));
        let t = taps(1000, 7);
        for o in 0..7 {
            let s: i32 = t.weights[o * t.ksize..(o + 1) * t.ksize].iter().sum();
            assert!((s - (1 << PRECISION_BITS)).abs() <= t.ksize as i32, "{s}");
        }
    }
}

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

use super::simd::avx2_dispatch;
use super::CropBox;
use crate::rgb::RgbImage;

const PRECISION_BITS: u32 = 22;

/// Per-output-pixel taps of one axis: first input index, number of taps, and `ksize` weights.
#[derive(Debug, Default)]
struct Taps {
    bounds: Vec<(usize, usize)>,
    ksize: usize,
    weights: Vec<i32>,
    /// The (in, out, offset, span) these taps were computed for: consecutive views often share a
    /// size (eval, fallback crops), and then nothing is recomputed.
    key: (usize, usize, u64, u64),
}

fn triangle(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        1.0 - x
    } else {
        0.0
    }
}

impl Taps {
    /// Taps of `out_size` outputs over `in_size` inputs, the box starting `offset` pixels in and
    /// `span` long (PIL's `box`; offset 0 and span `in_size` for a whole-pixel crop, which gives
    /// exactly the numbers of a plain resize). Taps stay within the `in_size` inputs.
    fn compute(&mut self, in_size: usize, out_size: usize, offset: f64, span: f64) {
        let key = (in_size, out_size, offset.to_bits(), span.to_bits());
        if self.key == key && !self.bounds.is_empty() {
            return;
        }
        self.key = key;
        let scale = span / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = filterscale; // the triangle's support is 1
        let ksize = support.ceil() as usize * 2 + 1;
        self.ksize = ksize;
        self.bounds.clear();
        self.weights.clear();
        self.weights.resize(out_size * ksize, 0);
        let mut row = [0f64; 64];
        let mut row_heap = Vec::new();
        let row: &mut [f64] = if ksize <= row.len() {
            &mut row[..ksize]
        } else {
            row_heap.resize(ksize, 0.0);
            &mut row_heap
        };
        // PIL multiplies by the reciprocal rather than dividing; with rational scales (e.g. 8/7)
        // many sums land exactly on .5 before rounding, so the last bit of each weight decides the
        // output.
        let inv_filterscale = 1.0 / filterscale;
        for o in 0..out_size {
            let center = offset + (o as f64 + 0.5) * scale;
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
                self.weights[o * ksize + k] = if fixed < 0.0 { (fixed - 0.5) as i32 } else { (fixed + 0.5) as i32 };
            }
            self.bounds.push((lo, n));
        }
    }
}

#[inline(always)]
fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Reusable buffers of [`resized_crop_into`]: the taps of both axes and the 8-bit intermediate.
#[derive(Debug, Default)]
pub struct ResizeScratch {
    ht: Taps,
    vt: Taps,
    tmp: Vec<u8>,
    acc: Vec<i32>,
}

/// Horizontal pass of one row: `src` starts at the crop's left edge and may extend past it (the
/// vector path reads 4 bytes per tap where they exist); `out` is out_w·3 bytes.
fn horizontal_row(src: &[u8], bounds: &[(usize, usize)], weights: &[i32], ksize: usize, out: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("sse4.1") {
        // SAFETY: the running CPU supports SSE4.1 (checked just above).
        unsafe { horizontal_row_sse41(src, bounds, weights, ksize, out) };
        return;
    }
    horizontal_row_scalar(src, bounds, weights, ksize, out);
}

fn horizontal_row_scalar(src: &[u8], bounds: &[(usize, usize)], weights: &[i32], ksize: usize, out: &mut [u8]) {
    for ((px, &(lo, n)), k) in out.chunks_exact_mut(3).zip(bounds).zip(weights.chunks_exact(ksize)) {
        let taps = &src[lo * 3..(lo + n) * 3];
        let mut acc = [1i32 << (PRECISION_BITS - 1); 3];
        for (&w, s) in k[..n].iter().zip(taps.chunks_exact(3)) {
            acc[0] += i32::from(s[0]) * w;
            acc[1] += i32::from(s[1]) * w;
            acc[2] += i32::from(s[2]) * w;
        }
        px[0] = clip8(acc[0]);
        px[1] = clip8(acc[1]);
        px[2] = clip8(acc[2]);
    }
}

/// The same sums with one 4-lane multiply-add per tap (R, G, B and a lane that is ignored)
/// instead of three scalar ones: the same i32 products and sums, so the same bytes. The final
/// `>> 22` and the two saturating packs are exactly `clip8`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.1")]
unsafe fn horizontal_row_sse41(src: &[u8], bounds: &[(usize, usize)], weights: &[i32], ksize: usize, out: &mut [u8]) {
    use std::arch::x86_64::*;
    let half = _mm_set1_epi32(1 << (PRECISION_BITS - 1));
    for ((px, &(lo, n)), k) in out.chunks_exact_mut(3).zip(bounds).zip(weights.chunks_exact(ksize)) {
        let mut acc = half;
        for (t, &w) in k[..n].iter().enumerate() {
            let i = (lo + t) * 3;
            let pixel = if i + 4 <= src.len() {
                // SAFETY: 4 bytes at i are inside `src` (checked); unaligned 32-bit load.
                unsafe { _mm_cvtsi32_si128(std::ptr::read_unaligned(src.as_ptr().add(i).cast::<i32>())) }
            } else {
                _mm_cvtsi32_si128(i32::from_le_bytes([src[i], src[i + 1], src[i + 2], 0]))
            };
            acc = _mm_add_epi32(acc, _mm_mullo_epi32(_mm_cvtepu8_epi32(pixel), _mm_set1_epi32(w)));
        }
        let v = _mm_srai_epi32::<{ PRECISION_BITS as i32 }>(acc);
        let packed = _mm_packus_epi16(_mm_packs_epi32(v, v), _mm_setzero_si128());
        let bytes = _mm_cvtsi128_si32(packed).to_le_bytes();
        px.copy_from_slice(&bytes[..3]);
    }
}

avx2_dispatch! {
    /// Vertical pass of one output row: a weighted sum of `n` rows of `tmp`, one lane per byte.
    fn vertical_row(tmp: &[u8], stride: usize, first: usize, weights: &[i32], acc: &mut [i32], out: &mut [u8]) {
        acc.fill(1 << (PRECISION_BITS - 1));
        for (t, &w) in weights.iter().enumerate() {
            let src = &tmp[(first + t) * stride..(first + t + 1) * stride];
            for (a, &s) in acc.iter_mut().zip(src) {
                *a += i32::from(s) * w;
            }
        }
        for (d, &a) in out.iter_mut().zip(acc.iter()) {
            *d = clip8(a);
        }
    }
}

/// Crops `crop` out of `img` and resizes it to `out_w`×`out_h` as PIL's bilinear resize does.
/// The crop must lie inside the image and be non-empty (callers build it from the image size).
pub fn resized_crop(img: &RgbImage, crop: CropBox, out_w: usize, out_h: usize) -> RgbImage {
    let mut out = RgbImage::new(0, 0);
    resized_crop_into(img, crop, out_w, out_h, &mut ResizeScratch::default(), &mut out);
    out
}

/// A crop window with fractional edges, in pixels of the image it is cut from: what a whole-pixel
/// crop becomes in a DCT-scaled decode (PIL's `resize(size, box=...)`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SubpixelBox {
    /// Left edge.
    pub left: f64,
    /// Top edge.
    pub top: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
}

impl From<CropBox> for SubpixelBox {
    fn from(c: CropBox) -> Self {
        Self { left: c.left as f64, top: c.top as f64, width: c.width as f64, height: c.height as f64 }
    }
}

/// [`resized_crop`] into `out` (reshaped to `out_w`×`out_h`) with the worker's buffers.
pub fn resized_crop_into(
    img: &RgbImage,
    crop: CropBox,
    out_w: usize,
    out_h: usize,
    s: &mut ResizeScratch,
    out: &mut RgbImage,
) {
    resized_box_into(img, crop.into(), out_w, out_h, s, out);
}

/// [`resized_crop_into`] for a box with fractional edges: the filter is centred on the box's
/// own sampling grid and reads the whole pixels that the box touches. A box with whole-pixel
/// edges gives exactly [`resized_crop_into`]'s output.
pub fn resized_box_into(
    img: &RgbImage,
    area: SubpixelBox,
    out_w: usize,
    out_h: usize,
    s: &mut ResizeScratch,
    out: &mut RgbImage,
) {
    // The whole pixels the box touches, and where the box starts inside them.
    let (left, top) = (area.left.floor().max(0.0), area.top.floor().max(0.0));
    let right = ((area.left + area.width).ceil() as usize).min(img.width());
    let bottom = ((area.top + area.height).ceil() as usize).min(img.height());
    let crop = CropBox {
        top: top as usize,
        left: left as usize,
        height: bottom.saturating_sub(top as usize),
        width: right.saturating_sub(left as usize),
    };
    let (dx, dy) = (area.left - left, area.top - top);
    let (cw, ch) = (crop.width, crop.height);
    out.reshape(out_w, out_h);
    if out_w == 0 || out_h == 0 || cw == 0 || ch == 0 {
        out.as_raw_mut().fill(0);
        return;
    }
    let need_h = out_w != cw || dx != 0.0 || area.width != cw as f64;
    let need_v = out_h != ch || dy != 0.0 || area.height != ch as f64;
    // Rows of the crop that the vertical pass reads.
    let (first, last) = if need_v {
        s.vt.compute(ch, out_h, dy, area.height);
        let (lo, _) = s.vt.bounds[0];
        let (lo_end, n_end) = s.vt.bounds[out_h - 1];
        (lo, lo_end + n_end)
    } else {
        (0, ch)
    };
    let tmp_w = if need_h { out_w } else { cw };
    let stride = tmp_w * 3;
    // Without a vertical pass the horizontal one writes straight into the output.
    let tmp: &mut Vec<u8> = if need_v { &mut s.tmp } else { out.raw_vec_mut() };
    tmp.resize(stride * (last - first), 0);
    let row_bytes = |y: usize| &img.row(crop.top + y)[crop.left * 3..(crop.left + cw) * 3];
    if need_h {
        s.ht.compute(cw, out_w, dx, area.width);
        let ht = &s.ht;
        let raw = img.as_raw();
        for (y, out_row) in (first..last).zip(tmp.chunks_exact_mut(stride)) {
            // From the crop's left edge to the end of the buffer: taps never index past the crop,
            // but the vector loads may read (and ignore) a byte beyond it.
            let start = ((crop.top + y) * img.width() + crop.left) * 3;
            horizontal_row(&raw[start..], &ht.bounds, &ht.weights, ht.ksize, out_row);
        }
    } else {
        for (y, out_row) in (first..last).zip(tmp.chunks_exact_mut(stride)) {
            out_row.copy_from_slice(row_bytes(y));
        }
    }
    if !need_v {
        return;
    }
    s.acc.resize(stride, 0);
    let vt = &s.vt;
    for (o, out_row) in out.as_raw_mut().chunks_exact_mut(stride).enumerate() {
        let (lo, n) = vt.bounds[o];
        let w = &vt.weights[o * vt.ksize..o * vt.ksize + n];
        vertical_row(&s.tmp, stride, lo - first, w, &mut s.acc, out_row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_and_scalar_rows_agree() {
        let src: Vec<u8> = (0..301 * 3).map(|i| ((i * 7919) % 256) as u8).collect();
        for out_w in [224, 37, 300, 600] {
            let mut t = Taps::default();
            t.compute(301, out_w, 0.0, 301.0);
            let mut a = vec![0u8; out_w * 3];
            let mut b = vec![0u8; out_w * 3];
            horizontal_row(&src, &t.bounds, &t.weights, t.ksize, &mut a);
            horizontal_row_scalar(&src, &t.bounds, &t.weights, t.ksize, &mut b);
            assert_eq!(a, b, "{out_w}");
        }
    }

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
    fn a_half_pixel_box_samples_between_pixels() {
        // A horizontal ramp 10·x: a box starting at 2.5 samples each output halfway between two
        // inputs; a whole-pixel box is the plain crop.
        let img = RgbImage::from_raw(20, 3, (0..20 * 3 * 3).map(|i| (10 * ((i / 3) % 20)) as u8).collect()).unwrap();
        let mut out = RgbImage::new(0, 0);
        let area = SubpixelBox { left: 2.5, top: 0.0, width: 10.0, height: 3.0 };
        resized_box_into(&img, area, 10, 3, &mut ResizeScratch::default(), &mut out);
        assert!((0..10).all(|o| out.pixel(o, 1)[0] as usize == 10 * o + 25), "{:?}", out.row(1));
        let whole = CropBox { top: 0, left: 2, height: 3, width: 10 };
        resized_box_into(&img, whole.into(), 7, 2, &mut ResizeScratch::default(), &mut out);
        assert_eq!(out, resized_crop(&img, whole, 7, 2));
    }

    #[test]
    fn flat_image_stays_flat_and_weights_sum_to_one() {
        let img = RgbImage::from_raw(37, 23, vec![200; 37 * 23 * 3]).unwrap();
        let out = resized_crop(&img, CropBox { top: 0, left: 0, height: 23, width: 37 }, 11, 50);
        assert!(out.as_raw().iter().all(|&v| v == 200));
        let mut t = Taps::default();
        t.compute(1000, 7, 0.0, 1000.0);
        for o in 0..7 {
            let s: i32 = t.weights[o * t.ksize..(o + 1) * t.ksize].iter().sum();
            assert!((s - (1 << PRECISION_BITS)).abs() <= t.ksize as i32, "{s}");
        }
    }
}

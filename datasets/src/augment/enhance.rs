//! ColorJitter's brightness, contrast and saturation: PIL's `ImageEnhance` maths.
//!
//! Each enhancer blends the image with a "degenerate" image: out = d + f·(x − d), computed in single
//! precision, truncated toward zero and clamped to 0..=255 (PIL's `Image.blend`). The degenerate image
//! is black for brightness, the rounded mean luma for contrast, and the pixel's own luma for
//! saturation (PIL's `ImageEnhance.Color`). Truncation, not rounding, is what PIL does; matching it
//! keeps the mean brightness of the views the same as the original's.

use super::grayscale::luma;
use super::simd::avx2_dispatch;
use crate::rgb::RgbImage;

#[inline]
fn blend(degenerate: u8, x: u8, factor: f32) -> u8 {
    let d = f32::from(degenerate);
    let v = d + factor * (f32::from(x) - d);
    // `as u8` truncates toward zero and saturates at both ends, PIL's clamp.
    v as u8
}

/// The blend of every byte value with a fixed degenerate value: brightness and contrast blend
/// every channel with one constant, so a 256-entry table holds the whole operation.
fn blend_table(degenerate: u8, factor: f32) -> [u8; 256] {
    std::array::from_fn(|x| blend(degenerate, x as u8, factor))
}

fn map_bytes(bytes: &mut [u8], table: &[u8; 256]) {
    for v in bytes {
        *v = table[usize::from(*v)];
    }
}

/// PIL `ImageEnhance.Brightness(img).enhance(factor)`.
pub fn adjust_brightness(img: &mut RgbImage, factor: f32) {
    if factor == 1.0 {
        return;
    }
    map_bytes(img.as_raw_mut(), &blend_table(0, factor));
}

/// Sum of the luma of every pixel.
pub(crate) fn luma_sum(raw: &[u8]) -> u64 {
    raw.chunks_exact(3).map(|p| u64::from(luma(p[0], p[1], p[2]))).sum()
}

/// PIL `ImageEnhance.Contrast(img).enhance(factor)`: blend with the image's mean luma.
pub fn adjust_contrast(img: &mut RgbImage, factor: f32) {
    if factor == 1.0 {
        return;
    }
    let raw = img.as_raw_mut();
    let pixels = raw.len() / 3;
    if pixels == 0 {
        return;
    }
    let sum = luma_sum(raw);
    // ImageStat's mean is a float; PIL rounds it with int(mean + 0.5).
    let mean = (sum as f64 / pixels as f64 + 0.5) as u8;
    map_bytes(raw, &blend_table(mean, factor));
}

avx2_dispatch! {
    fn saturate(raw: &mut [u8], factor: f32) {
        for px in raw.chunks_exact_mut(3) {
            let l = luma(px[0], px[1], px[2]);
            px[0] = blend(l, px[0], factor);
            px[1] = blend(l, px[1], factor);
            px[2] = blend(l, px[2], factor);
        }
    }
}

/// PIL `ImageEnhance.Color(img).enhance(factor)`: blend each pixel with its own luma.
pub fn adjust_saturation(img: &mut RgbImage, factor: f32) {
    if factor == 1.0 {
        return;
    }
    saturate(img.as_raw_mut(), factor);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_equal_the_per_byte_blend() {
        let data: Vec<u8> = (0..=255u8).cycle().take(256 * 3 * 4).collect();
        let mut img = RgbImage::from_raw(256, 4, data.clone()).unwrap();
        adjust_brightness(&mut img, 1.37);
        assert!(img.as_raw().iter().zip(&data).all(|(&o, &x)| o == blend(0, x, 1.37)));
    }

    #[test]
    fn blend_truncates_and_clamps() {
        assert_eq!(blend(0, 100, 1.4), 140);
        assert_eq!(blend(0, 200, 1.4), 255);
        assert_eq!(blend(0, 3, 0.6), 1); // 1.8 truncates to 1
        assert_eq!(blend(100, 0, 1.4), 0); // -40 clamps to 0
        let mut img = RgbImage::from_raw(1, 1, vec![10, 20, 30]).unwrap();
        adjust_saturation(&mut img, 0.0);
        let l = luma(10, 20, 30);
        assert_eq!(img.as_raw(), &[l, l, l]);
    }
}

//! ColorJitter's brightness, contrast and saturation: PIL's `ImageEnhance` maths.
//!
//! Each enhancer blends the image with a "degenerate" image: out = d + f·(x − d), computed in single
//! precision, truncated toward zero and clamped to 0..=255 (PIL's `Image.blend`). The degenerate image
//! is black for brightness, the rounded mean luma for contrast, and the pixel's own luma for
//! saturation (PIL's `ImageEnhance.Color`). Truncation, not rounding, is what PIL does; matching it
//! keeps the mean brightness of the views the same as the original's.

use super::grayscale::luma;
use super::simd::simd_dispatch;
use crate::rgb::RgbImage;

#[inline]
fn blend(degenerate: u8, x: u8, factor: f32) -> u8 {
    let d = f32::from(degenerate);
    let v = d + factor * (f32::from(x) - d);
    // Truncation toward zero with PIL's clamp at both ends, as `v as u8` (v is never NaN). The
    // whole number in 0..=255 plus 2^23 lies in the low mantissa bits and a bit cast reads it:
    // the saturating `as` made the compiler convert lane by lane in [`saturate`].
    (v.clamp(0.0, 255.0).trunc() + 8_388_608.0).to_bits() as u8
}

simd_dispatch! {
    /// Brightness and contrast blend every byte with one constant: eight bytes a vector step,
    /// where a 256-entry table took one load a byte.
    fn blend_bytes(bytes: &mut [u8], degenerate: u8, factor: f32) {
        for v in bytes {
            *v = blend(degenerate, *v, factor);
        }
    }
}

/// PIL `ImageEnhance.Brightness(img).enhance(factor)`.
pub fn adjust_brightness(img: &mut RgbImage, factor: f32) {
    if factor == 1.0 {
        return;
    }
    blend_bytes(img.as_raw_mut(), 0, factor);
}

simd_dispatch! {
    /// Sum of the luma of every pixel (a u32 per 4,096 pixels cannot overflow and vectorises
    /// where u64 lanes did not).
    pub(crate) fn luma_sum(raw: &[u8]) -> u64 {
        raw.chunks(3 * 4096)
            .map(|block| u64::from(block.chunks_exact(3).map(|p| u32::from(luma(p[0], p[1], p[2]))).sum::<u32>()))
            .sum()
    }
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
    blend_bytes(raw, mean, factor);
}

simd_dispatch! {
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
    fn brightness_is_the_per_byte_blend() {
        let data: Vec<u8> = (0..=255u8).cycle().take(256 * 3 * 4).collect();
        let mut img = RgbImage::from_raw(256, 4, data.clone()).unwrap();
        adjust_brightness(&mut img, 1.37);
        assert!(img.as_raw().iter().zip(&data).all(|(&o, &x)| o == blend(0, x, 1.37)));
    }

    #[test]
    fn blend_truncates_and_clamps() {
        for (x, d) in (0..=255u8).flat_map(|x| [(x, 0u8), (x, 97), (x, 255)]) {
            for f in [0.0f32, 0.37, 0.999, 1.0, 1.5, 2.9, 1e9] {
                let v = f32::from(d) + f * (f32::from(x) - f32::from(d));
                assert_eq!(blend(d, x, f), v as u8, "x {x} d {d} f {f}");
            }
        }
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

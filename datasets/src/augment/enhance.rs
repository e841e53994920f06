//! ColorJitter's brightness, contrast and saturation: PIL's `ImageEnhance` maths.
//!
//! Each enhancer blends the image with a "degenerate" image: out = d + f·(x − d), computed in single
//! precision, truncated toward zero and clamped to 0..=255 (PIL's `Image.blend`). The degenerate image
//! is black for brightness, the rounded mean luma for contrast, and the pixel's own luma for
//! saturation (PIL's `ImageEnhance.Color`). Truncation, not rounding, is what PIL does; matching it
//! keeps the mean brightness of the views the same as the original's.

use super::grayscale::luma;
use crate::rgb::RgbImage;

#[inline]
fn blend(degenerate: u8, x: u8, factor: f32) -> u8 {
    let d = f32::from(degenerate);
    let v = d + factor * (f32::from(x) - d);
    // `as u8` truncates toward zero and saturates at both ends, PIL's clamp.
    v as u8
}

/// PIL `ImageEnhance.Brightness(img).enhance(factor)`.
pub fn adjust_brightness(img: &mut RgbImage, factor: f32) {
    if factor == 1.0 {
        return;
    }
    for v in img.as_raw_mut() {
        *v = blend(0, *v, factor);
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
    let sum: u64 = raw.chunks_exact(3).map(|p| u64::from(luma(p[0], p[1], p[2]))).sum();
    // ImageStat's mean is a float; PIL rounds it with int(mean + 0.5).
    let mean = (sum as f64 / pixels as f64 + 0.5) as u8;
    for v in raw {
        *v = blend(mean, *v, factor);
    }
}

/// PIL `ImageEnhance.Color(img).enhance(factor)`: blend each pixel with its own luma.
pub fn adjust_saturation(img: &mut RgbImage, factor: f32) {
    if factor == 1.0 {
        return;
    }
    for px in img.as_raw_mut().chunks_exact_mut(3) {
        let l = luma(px[0], px[1], px[2]);
        for v in px {
            *v = blend(l, *v, factor);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

//! RandomGrayscale's operation: PIL's `convert("L")` replicated to three channels.
//!
//! PIL computes ITU-R 601-2 luma, L = R·299/1000 + G·587/1000 + B·114/1000, in 16-bit fixed point
//! with rounding: (R·19595 + G·38470 + B·7471 + 2^15) >> 16. The same luma is the "degenerate"
//! image of PIL's saturation and contrast enhancers, so they share this function.

use super::simd::simd_dispatch;
use crate::rgb::RgbImage;

/// PIL's luma of one pixel.
#[inline]
pub fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((u32::from(r) * 19595 + u32::from(g) * 38470 + u32::from(b) * 7471 + 0x8000) >> 16) as u8
}

/// Replaces every pixel by its luma in all three channels (torchvision `num_output_channels=3`).
pub fn to_grayscale(img: &mut RgbImage) {
    grey(img.as_raw_mut());
}

simd_dispatch! {
    /// Compiled for AVX2 too: the baseline build has no 32-bit lane multiply for the luma.
    fn grey(raw: &mut [u8]) {
        for px in raw.chunks_exact_mut(3) {
            let l = luma(px[0], px[1], px[2]);
            px[0] = l;
            px[1] = l;
            px[2] = l;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luma_matches_the_601_formula_rounded() {
        for &(r, g, b) in &[(255, 255, 255), (0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255), (12, 200, 99)] {
            let exact = (f64::from(r) * 0.299 + f64::from(g) * 0.587 + f64::from(b) * 0.114).round();
            assert!((f64::from(luma(r, g, b)) - exact).abs() <= 1.0, "{r} {g} {b}");
        }
        assert_eq!(luma(255, 255, 255), 255);
        let data: Vec<u8> = (0..3 * 1000).map(|i| (i * 37 % 251) as u8).collect();
        let mut img = RgbImage::from_raw(1000, 1, data.clone()).unwrap();
        to_grayscale(&mut img);
        for (o, p) in img.as_raw().chunks_exact(3).zip(data.chunks_exact(3)) {
            assert_eq!(o, [luma(p[0], p[1], p[2]); 3]);
        }
    }
}

//! RandomHorizontalFlip's operation: mirror left–right (PIL `FLIP_LEFT_RIGHT`).

use super::simd::simd_dispatch;
use crate::rgb::RgbImage;

/// Mirrors every row in place.
pub fn hflip(img: &mut RgbImage) {
    let w = img.width();
    if w == 0 {
        return;
    }
    mirror_rows(img.as_raw_mut(), w * 3);
}

simd_dispatch! {
    /// Each row's bytes reversed (a byte shuffle per vector), which mirrors the pixels but leaves
    /// each one as B, G, R; swapping its first and last byte back makes it R, G, B again. Two
    /// straight passes over a row in L1 cost a third of swapping 3-byte pixels from both ends.
    fn mirror_rows(raw: &mut [u8], row_bytes: usize) {
        for row in raw.chunks_exact_mut(row_bytes) {
            row.reverse();
            for px in row.chunks_exact_mut(3) {
                px.swap(0, 2);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flips_rows_and_twice_is_identity() {
        let data: Vec<u8> = (0..3 * 2 * 3).map(|v| v as u8).collect();
        let mut img = RgbImage::from_raw(3, 2, data.clone()).unwrap();
        hflip(&mut img);
        assert_eq!(img.pixel(0, 1), [15, 16, 17]);
        assert_eq!(img.pixel(1, 0), [3, 4, 5]);
        hflip(&mut img);
        assert_eq!(img.as_raw(), &data[..]);
        for w in (1..6).chain([37, 224, 225]) {
            let original = RgbImage::from_raw(w, 2, (0..w * 2 * 3).map(|v| (v * 7 % 251) as u8).collect()).unwrap();
            let mut img = original.clone();
            hflip(&mut img);
            for (x, y) in (0..w).flat_map(|x| [(x, 0), (x, 1)]) {
                assert_eq!(img.pixel(x, y), original.pixel(w - 1 - x, y), "width {w}");
            }
        }
    }
}

//! RandomHorizontalFlip's operation: mirror left–right (PIL `FLIP_LEFT_RIGHT`).

use crate::rgb::RgbImage;

/// Mirrors every row in place.
pub fn hflip(img: &mut RgbImage) {
    let w = img.width();
    if w == 0 {
        return;
    }
    for row in img.as_raw_mut().chunks_exact_mut(w * 3) {
        for x in 0..w / 2 {
            let (a, b) = (x * 3, (w - 1 - x) * 3);
            for c in 0..3 {
                row.swap(a + c, b + c);
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
    }
}

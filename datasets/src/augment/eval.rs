//! The evaluation transform: Resize(256) on the shorter side, then CenterCrop(224).
//!
//! torchvision semantics: the longer side becomes int(256 · long / short) (truncated); the crop's
//! top-left is round((H − 224)/2), round((W − 224)/2) with Python's half-to-even rounding; a crop
//! larger than the image is zero-padded (only possible with a resize smaller than the crop).

use super::resize::resized_crop;
use super::CropBox;
use crate::rgb::RgbImage;

/// Output size of torchvision's `Resize(shorter)` for a `width`×`height` image.
pub fn resize_shorter_size(width: usize, height: usize, shorter: usize) -> (usize, usize) {
    if width <= height {
        let long = (shorter as f64 * height as f64 / width as f64) as usize;
        (shorter, long)
    } else {
        let long = (shorter as f64 * width as f64 / height as f64) as usize;
        (long, shorter)
    }
}

/// torchvision `Resize(shorter)` (PIL bilinear). An image already of that size is returned as is.
pub fn resize_shorter(img: &RgbImage, shorter: usize) -> RgbImage {
    let (w, h) = resize_shorter_size(img.width(), img.height(), shorter);
    let whole = CropBox { top: 0, left: 0, height: img.height(), width: img.width() };
    resized_crop(img, whole, w, h)
}

/// torchvision `CenterCrop(size)`: `size`×`size`, zero padding where the image is smaller.
pub fn center_crop(img: &RgbImage, size: usize) -> RgbImage {
    let (w, h) = (img.width(), img.height());
    // After padding to at least size×size, the crop starts at round((dim − size)/2) (half to even);
    // with padding the image sits at offset ((size − dim)/2) inside the padded canvas.
    let offset = |dim: usize| -> isize {
        if dim >= size {
            ((dim - size) as f64 / 2.0).round_ties_even() as isize
        } else {
            -(((size - dim) / 2) as isize)
        }
    };
    let (ox, oy) = (offset(w), offset(h));
    let mut out = RgbImage::new(size, size);
    let raw = out.as_raw_mut();
    for y in 0..size {
        let sy = y as isize + oy;
        if sy < 0 || sy >= h as isize {
            continue;
        }
        let src = img.row(sy as usize);
        for x in 0..size {
            let sx = x as isize + ox;
            if sx >= 0 && sx < w as isize {
                let s = sx as usize * 3;
                raw[(y * size + x) * 3..(y * size + x) * 3 + 3].copy_from_slice(&src[s..s + 3]);
            }
        }
    }
    out
}

/// The full evaluation transform on u8: Resize(resize) then CenterCrop(crop).
pub fn eval_transform(img: &RgbImage, resize: usize, crop: usize) -> RgbImage {
    center_crop(&resize_shorter(img, resize), crop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_offsets_follow_torchvision() {
        assert_eq!(resize_shorter_size(500, 375, 256), (341, 256));
        assert_eq!(resize_shorter_size(375, 500, 256), (256, 341));
        // 257 − 224 = 33 → 16.5 → 16 (half to even); 259 → 17.5 → 18.
        let img = RgbImage::from_raw(259, 257, (0..259 * 257 * 3).map(|v| (v % 251) as u8).collect()).unwrap();
        let c = center_crop(&img, 224);
        assert_eq!(c.pixel(0, 0), img.pixel(18, 16));
        let small = RgbImage::from_raw(2, 2, vec![9; 12]).unwrap();
        let c = center_crop(&small, 4);
        assert_eq!(c.pixel(0, 0), [0, 0, 0]);
        assert_eq!(c.pixel(1, 1), [9, 9, 9]);
        assert_eq!(c.pixel(3, 3), [0, 0, 0]);
    }
}

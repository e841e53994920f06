//! Crop + resize with PIL's antialiased bilinear filter (`Image.resize(size, BILINEAR)`), done by
//! `fast_image_resize` (the crate the design names) on a cropped view of the image.
//!
//! torchvision's PIL path crops (`img.crop`) and then resizes the cropped image, so the filter
//! never reads outside the crop. `fast_image_resize`'s convolution is Pillow's algorithm (triangle
//! support scaled by the reduction factor, taps outside the source dropped and renormalised), so
//! it gives torchvision's view when it is handed the crop as its whole source: a [`CroppedImage`]
//! over the decoded pixels, which copies nothing. Its own `ResizeOptions::crop` alone would not
//! do: like PIL's `resize(box=)` its filter then reads pixels outside the box, up to 54 levels
//! away from torchvision's `crop().resize()` near the edges.
//!
//! Known difference from PIL: the crate runs the vertical pass first and keeps 16-bit weights
//! (PIL: the horizontal pass first, 22-bit weights), which moves about 15 % of the bytes by one
//! level and none by more (`datasets/tests/augment_matches_torchvision.rs` holds every byte of the
//! resize cases within 1 level). Measured on the same crops it is ~1.8× faster per core than the
//! PIL-exact filter this replaced (BENCHMARKS.md, data path).

use fast_image_resize::images::{CroppedImage, Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use super::CropBox;
use crate::rgb::RgbImage;

/// Reusable buffers of [`resized_crop_into`]: the resizer keeps its intermediate image and its
/// coefficient buffers between views, so a worker allocates nothing after its first image.
#[derive(Debug, Default)]
pub struct ResizeScratch {
    resizer: Resizer,
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

/// [`resized_crop_into`] for a box with fractional edges: the source handed to the filter is the
/// whole pixels the box touches (so no tap reads beyond them, as with a whole-pixel crop), and
/// the filter is centred on the box's own sampling grid inside them. A box with whole-pixel edges
/// is exactly [`resized_crop_into`].
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
    out.reshape(out_w, out_h);
    if out_w == 0 || out_h == 0 || crop.width == 0 || crop.height == 0 {
        out.as_raw_mut().fill(0);
        return;
    }
    let (dx, dy) = ((area.left - left).max(0.0), (area.top - top).max(0.0));
    // The box inside the touched pixels; clamped so rounding never puts its end past them.
    let (bw, bh) = (area.width.min(crop.width as f64 - dx), area.height.min(crop.height as f64 - dy));
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear)).crop(dx, dy, bw, bh);
    // Every size below is a u32 of an image that exists in memory, and the crop lies inside `img`
    // (clamped above): the crate's errors (pixel type, buffer size, crop box) cannot occur.
    let u32_of = |v: usize| u32::try_from(v).expect("image sides fit in u32 (decoders cap them)");
    let src = ImageRef::new(u32_of(img.width()), u32_of(img.height()), img.as_raw(), PixelType::U8x3)
        .expect("an RgbImage's buffer is width·height·3 bytes");
    let view = CroppedImage::new(&src, u32_of(crop.left), u32_of(crop.top), u32_of(crop.width), u32_of(crop.height))
        .expect("the crop is clamped to the image");
    let mut dst = Image::from_slice_u8(u32_of(out_w), u32_of(out_h), out.as_raw_mut(), PixelType::U8x3)
        .expect("the output was reshaped to out_w·out_h·3 bytes");
    s.resizer.resize(&view, &mut dst, &options).expect("RGB to RGB, the box inside the source");
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
    fn the_filter_reads_nothing_outside_the_crop() {
        // Bright pixels all around a dark crop: torchvision crops first, so none of them may leak
        // into the view (a `resize(box=)` filter would read them at the edges when shrinking).
        let (w, h) = (40, 30);
        let data = (0..w * h)
            .flat_map(|i| {
                let (x, y) = (i % w, i / w);
                let inside = (10..30).contains(&x) && (5..25).contains(&y);
                [if inside { 20 } else { 250 }; 3]
            })
            .collect();
        let img = RgbImage::from_raw(w, h, data).unwrap();
        let out = resized_crop(&img, CropBox { top: 5, left: 10, height: 20, width: 20 }, 7, 9);
        assert!(out.as_raw().iter().all(|&v| v == 20), "{:?}", out.as_raw());
    }

    #[test]
    fn flat_image_stays_flat() {
        let img = RgbImage::from_raw(37, 23, vec![200; 37 * 23 * 3]).unwrap();
        let out = resized_crop(&img, CropBox { top: 0, left: 0, height: 23, width: 37 }, 11, 50);
        assert!(out.as_raw().iter().all(|&v| v == 200));
    }
}

//! What happens to one sample on its way into a shard: it must decode (a file that does not is
//! skipped and listed, never packed, so training never meets it), and, when asked, it is shrunk
//! to a maximum side and re-encoded as JPEG — FFCV's trade: smaller shards and much cheaper
//! decoding per epoch, paid once at build time, at a small loss of fidelity.

use std::path::Path;

use crate::augment::resize::{resized_box_into, ResizeScratch};
use crate::augment::CropBox;
use crate::decode::{read_header, DecodeOptions};
use crate::rgb::RgbImage;

use super::error::SampleError;
use super::format::Encoding;
use super::jpeg::encode_jpeg;

/// The size an image of `width`×`height` gets when its longer side is capped at `max_side`,
/// keeping the aspect ratio (rounded, at least 1 pixel); unchanged when already small enough.
pub fn capped_size(width: usize, height: usize, max_side: usize) -> (usize, usize) {
    let long = width.max(height);
    if max_side == 0 || long <= max_side {
        return (width, height);
    }
    let scale = max_side as f64 / long as f64;
    let side = |s: usize| ((s as f64 * scale).round() as usize).clamp(1, max_side);
    (side(width), side(height))
}

/// Checks that `bytes` decode and returns what to store: the bytes themselves, or the image
/// re-encoded as `encoding` says. The error names `name`.
///
/// Decoding is the training views' own ([`crate::decode::Header::decode_region`]): libjpeg-turbo
/// for a JPEG, the full decoder for other formats and for any JPEG libjpeg-turbo warns about, so a
/// file is packed exactly when the data path can read it. The whole image is the crop;
/// libjpeg-turbo's DCT scaling applies when the stored size is at most half the original's (it
/// entropy-decodes every block whatever the scale, so the check is as strict as a full-size
/// decode); and the resize is the data path's ([`resized_box_into`], PIL's antialiased bilinear).
pub fn prepare_sample(
    bytes: Vec<u8>,
    name: &str,
    encoding: Encoding,
    decode_options: &DecodeOptions,
) -> Result<Vec<u8>, SampleError> {
    let path = Path::new(name);
    let header = read_header(&bytes, path, decode_options)?;
    let (width, height) = header.size();
    let whole = CropBox { top: 0, left: 0, height, width };
    match encoding {
        Encoding::Original => {
            // Only the verdict is wanted: the smallest DCT scale costs the least.
            header.decode_region(whole, 1)?;
            Ok(bytes)
        }
        Encoding::Jpeg { max_side, quality, chroma } => {
            let (w, h) = capped_size(width, height, max_side as usize);
            let region = header.decode_region(whole, w.min(h))?;
            let image = if region.scale == 1 && (w, h) == (width, height) {
                region.image
            } else {
                let mut out = RgbImage::new(0, 0);
                resized_box_into(&region.image, region.crop, w, h, &mut ResizeScratch::default(), &mut out);
                out
            };
            encode_jpeg(&image, quality, chroma).map_err(|source| SampleError::Jpeg { name: name.to_owned(), source })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::augment::resize::resized_crop;
    use crate::decode::decode;
    use crate::packed::format::Chroma;
    use image::ExtendedColorType;

    #[test]
    fn capped_size_keeps_the_aspect_and_leaves_small_images_alone() {
        assert_eq!(capped_size(640, 480, 256), (256, 192));
        assert_eq!(capped_size(480, 640, 256), (192, 256));
        assert_eq!(capped_size(200, 100, 256), (200, 100));
        assert_eq!(capped_size(10_000, 3, 100), (100, 1));
        assert_eq!(capped_size(640, 480, 0), (640, 480));
    }

    #[test]
    fn reencoding_shrinks_and_stays_close_and_garbage_is_refused() {
        // A smooth gradient survives JPEG at quality 95 within a few levels.
        let (w, h) = (96usize, 64usize);
        let data: Vec<u8> = (0..w * h)
            .flat_map(|i| {
                let (x, y) = (i % w, i / w);
                [(x * 255 / w) as u8, (y * 255 / h) as u8, 128]
            })
            .collect();
        let img = RgbImage::from_raw(w, h, data).unwrap();
        let png = {
            let mut out = Vec::new();
            image::ImageEncoder::write_image(
                image::codecs::png::PngEncoder::new(&mut out),
                img.as_raw(),
                w as u32,
                h as u32,
                ExtendedColorType::Rgb8,
            )
            .unwrap();
            out
        };
        let opts = DecodeOptions::default();
        let kept = prepare_sample(png.clone(), "a.png", Encoding::Original, &opts).unwrap();
        assert_eq!(kept, png);
        let jpeg =
            prepare_sample(png, "a.png", Encoding::Jpeg { max_side: 48, quality: 95, chroma: Chroma::Yuv444 }, &opts)
                .unwrap();
        let back = decode(&jpeg, Path::new("a.jpg"), &opts).unwrap();
        assert_eq!((back.width(), back.height()), (48, 32));
        let small = resized_crop(&img, CropBox { top: 0, left: 0, height: h, width: w }, 48, 32);
        let worst = back.as_raw().iter().zip(small.as_raw()).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
        println!("JPEG q95 round trip of a 48x32 gradient: worst difference {worst}/255");
        assert!(worst <= 8, "worst difference {worst}");
        let e =
            prepare_sample(b"not an image".to_vec(), "dog/x.jpg", Encoding::Original, &opts).unwrap_err().to_string();
        assert!(e.contains("dog/x.jpg"), "{e}");
    }
}

//! Decoded pixel layouts → 8-bit RGB, as PIL's `convert("RGB")` does it (see the module above).

use image::DynamicImage;

use crate::rgb::RgbImage;

/// Converts any decoded layout to RGB8: grey replicated, alpha dropped, 16-bit → high byte.
pub(super) fn to_rgb_like_pil(decoded: DynamicImage) -> RgbImage {
    let (w, h) = (decoded.width() as usize, decoded.height() as usize);
    let data = match decoded {
        DynamicImage::ImageRgb8(img) => img.into_raw(),
        DynamicImage::ImageRgba8(img) => img.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect(),
        DynamicImage::ImageLuma8(img) => img.iter().flat_map(|&l| [l, l, l]).collect(),
        DynamicImage::ImageLumaA8(img) => img.chunks_exact(2).flat_map(|p| [p[0]; 3]).collect(),
        DynamicImage::ImageRgb16(img) => img.iter().map(|&v| (v >> 8) as u8).collect(),
        DynamicImage::ImageRgba16(img) => {
            img.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]].map(|v| (v >> 8) as u8)).collect()
        }
        DynamicImage::ImageLuma16(img) => img.iter().flat_map(|&l| [(l >> 8) as u8; 3]).collect(),
        DynamicImage::ImageLumaA16(img) => img.chunks_exact(2).flat_map(|p| [(p[0] >> 8) as u8; 3]).collect(),
        // Float layouts (not produced by the formats enabled here) and any future variant: the
        // `image` crate's own conversion.
        other => other.to_rgb8().into_raw(),
    };
    RgbImage::from_raw(w, h, data).expect("decoder output has width*height pixels")
}

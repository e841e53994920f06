//! Image bytes → the pixels and parameters of one training view, decoding no more than it needs.
//!
//! The view's parameters depend on the image size only, so they are drawn from the header (the
//! same (seed, epoch, index) stream and the same size as after a full decode: the parameters never
//! depend on `fast_decode`). With `fast_decode` on, only the crop's window is then decoded
//! ([`crate::decode::Header::decode_region`]) and the crop is located in the window's (possibly DCT-scaled) pixels; off,
//! the whole image is decoded as PIL would.

use std::path::Path;

use crate::augment::pipeline::Workspace;
use crate::augment::resize::SubpixelBox;
use crate::augment::{Augmenter, ViewParams};
use crate::decode::{decode, read_header, DecodeError, DecodeOptions};
use crate::rgb::RgbImage;

/// What [`Augmenter::apply_into`] needs for one view.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewSource {
    /// The decoded pixels: the whole image, or the crop's (possibly DCT-scaled) window.
    pub image: RgbImage,
    /// The view's parameters (the crop in the full-size image).
    pub params: ViewParams,
    /// The crop in `image`'s pixels.
    pub area: SubpixelBox,
}

impl ViewSource {
    /// The view into `view` (see [`Augmenter::apply_box_into`]).
    pub fn apply_into(&self, augmenter: &Augmenter, ws: &mut Workspace, view: &mut RgbImage) {
        augmenter.apply_box_into(&self.image, self.area, &self.params, ws, view);
    }

    /// Only the geometric half (crop + resize, flip): the view handed to a tensor-side
    /// photometric stage (see [`Augmenter::apply_geometric_box_into`]).
    pub fn apply_geometric_into(&self, augmenter: &Augmenter, ws: &mut Workspace, view: &mut RgbImage) {
        augmenter.apply_geometric_box_into(&self.image, self.area, &self.params, ws, view);
    }
}

/// Decodes what the view of (seed, epoch, index) needs from `bytes` (the contents of `path`).
pub fn decode_for_view(
    augmenter: &Augmenter,
    bytes: &[u8],
    path: &Path,
    options: &DecodeOptions,
    (seed, epoch, index): (u64, u64, u64),
) -> Result<ViewSource, DecodeError> {
    let config = augmenter.config();
    if !config.fast_decode {
        let image = decode(bytes, path, options)?;
        let params = augmenter.params_for(seed, epoch, index, image.width(), image.height());
        return Ok(ViewSource { image, area: params.crop.into(), params });
    }
    let header = read_header(bytes, path, options)?;
    let (width, height) = header.size();
    let params = augmenter.params_for(seed, epoch, index, width, height);
    let region = header.decode_region(params.crop, config.output_size)?;
    Ok(ViewSource { image: region.image, params, area: region.crop })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::augment::AugmentationConfig;

    #[test]
    fn parameters_do_not_depend_on_fast_decode() {
        let img = image::RgbImage::from_fn(300, 200, |x, y| image::Rgb([(x % 256) as u8, (y * 2 % 256) as u8, 60]));
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90).encode_image(&img).unwrap();
        let path = Path::new("x.jpg");
        let slow =
            Augmenter::new(AugmentationConfig { output_size: 32, fast_decode: false, ..Default::default() }).unwrap();
        let fast = Augmenter::new(AugmentationConfig { output_size: 32, ..Default::default() }).unwrap();
        let mut windows = 0;
        for index in 0..20 {
            let a = decode_for_view(&slow, &jpeg, path, &DecodeOptions::default(), (3, 1, index)).unwrap();
            let b = decode_for_view(&fast, &jpeg, path, &DecodeOptions::default(), (3, 1, index)).unwrap();
            assert_eq!(a.params, slow.params_for(3, 1, index, 300, 200), "the full path is unchanged");
            assert_eq!(b.params, a.params);
            windows += usize::from(b.image.width() * b.image.height() < 300 * 200);
        }
        assert!(windows > 10, "most crops decode a window, not the whole image ({windows} of 20)");
    }
}

//! ToTensor + Normalize: u8 H×W×3 → f32 C×H×W, (x/255 − mean)/std per channel.

use super::simd::simd_dispatch;
use crate::rgb::RgbImage;

/// CLIP's per-channel mean (the teacher's preprocessing; DESIGN §1).
pub const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
/// CLIP's per-channel standard deviation.
pub const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_6, 0.275_777_1];
/// ImageNet's mean (linear probe; DESIGN §1).
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet's standard deviation.
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Writes the normalised planes of `img` into `out` (length 3·H·W, channel-major), the layout a
/// batch tensor wants, so a worker can fill its slot of a pinned batch without an extra copy.
///
/// Computed as torchvision does: x/255 first (ToTensor), then (x − mean)/std (Normalize), in f32.
pub fn to_tensor_normalized_into(img: &RgbImage, mean: [f32; 3], std: [f32; 3], out: &mut [f32]) {
    let plane = img.width() * img.height();
    assert_eq!(out.len(), 3 * plane, "output slice must hold 3 x {} values", plane);
    let (r, rest) = out.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    planes(img.as_raw(), r, g, b, mean, std);
}

simd_dispatch! { avx2 only:
    /// The same f32 operations per value as a 256-entry table would give, computed in vector
    /// lanes: table look-ups are one scalar load a byte, the arithmetic eight values a step.
    /// AVX2 at most: the AVX-512 build's wider de-interleaving shuffles measured slower
    /// (0.057 against 0.052 ms a 224² view).
    fn planes(raw: &[u8], r: &mut [f32], g: &mut [f32], b: &mut [f32], mean: [f32; 3], std: [f32; 3]) {
        for (((px, r), g), b) in raw.chunks_exact(3).zip(r).zip(g).zip(b) {
            *r = (f32::from(px[0]) / 255.0 - mean[0]) / std[0];
            *g = (f32::from(px[1]) / 255.0 - mean[1]) / std[1];
            *b = (f32::from(px[2]) / 255.0 - mean[2]) / std[2];
        }
    }
}

/// Allocating form of [`to_tensor_normalized_into`].
pub fn to_tensor_normalized(img: &RgbImage, mean: [f32; 3], std: [f32; 3]) -> Vec<f32> {
    let mut out = vec![0.0; 3 * img.width() * img.height()];
    to_tensor_normalized_into(img, mean, std, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planes_are_channel_major_and_normalised() {
        let img = RgbImage::from_raw(2, 1, vec![0, 255, 128, 255, 0, 64]).unwrap();
        let t = to_tensor_normalized(&img, CLIP_MEAN, CLIP_STD);
        assert_eq!(t.len(), 6);
        assert!((t[0] - (0.0 - CLIP_MEAN[0]) / CLIP_STD[0]).abs() < 1e-6);
        assert!((t[1] - (1.0 - CLIP_MEAN[0]) / CLIP_STD[0]).abs() < 1e-6);
        assert!((t[2] - (1.0 - CLIP_MEAN[1]) / CLIP_STD[1]).abs() < 1e-6);
        assert!((t[5] - (64.0 / 255.0 - CLIP_MEAN[2]) / CLIP_STD[2]).abs() < 1e-6);
    }

    #[test]
    fn every_byte_in_every_channel_gives_the_per_value_table() {
        let data: Vec<u8> = (0..3 * 259).map(|i| (i * 7 % 256) as u8).collect();
        let img = RgbImage::from_raw(259, 1, data).unwrap();
        for (mean, std) in [(CLIP_MEAN, CLIP_STD), (IMAGENET_MEAN, IMAGENET_STD)] {
            let t = to_tensor_normalized(&img, mean, std);
            for (i, px) in img.as_raw().chunks_exact(3).enumerate() {
                for c in 0..3 {
                    let want = (px[c] as f32 / 255.0 - mean[c]) / std[c];
                    assert_eq!(t[c * 259 + i].to_bits(), want.to_bits());
                }
            }
        }
    }
}

//! RandomResizedCrop's box sampler, with torchvision's semantics (`RandomResizedCrop.get_params`).
//!
//! Up to ten attempts: area fraction uniform in `scale`, aspect ratio log-uniform in `ratio`,
//! w = round(√(area·r)), h = round(√(area/r)) (Python's round: half to even); the first box that
//! fits is placed uniformly. If none fits, the fallback is a centred crop of the whole image,
//! clamped to the ratio range. Reproducing the fallback matters: for very elongated images it is
//! taken often, and it determines what the student sees of them.

use rand::Rng;

use super::CropBox;

/// Draws one crop box for an image of `width`×`height` (both > 0).
///
/// `scale` is the (min, max) fraction of the area, `ratio` the (min, max) width/height.
pub fn sample_crop<R: Rng + ?Sized>(
    width: usize,
    height: usize,
    scale: (f64, f64),
    ratio: (f64, f64),
    rng: &mut R,
) -> CropBox {
    let area = (width * height) as f64;
    let (log_lo, log_hi) = (ratio.0.ln(), ratio.1.ln());
    for _ in 0..10 {
        let target_area = area * uniform(rng, scale.0, scale.1);
        let aspect = uniform(rng, log_lo, log_hi).exp();
        let w = (target_area * aspect).sqrt().round_ties_even();
        let h = (target_area / aspect).sqrt().round_ties_even();
        if w > 0.0 && w <= width as f64 && h > 0.0 && h <= height as f64 {
            let (w, h) = (w as usize, h as usize);
            let top = rng.gen_range(0..=height - h);
            let left = rng.gen_range(0..=width - w);
            return CropBox { top, left, height: h, width: w };
        }
    }
    let in_ratio = width as f64 / height as f64;
    let (lo, hi) = (ratio.0.min(ratio.1), ratio.0.max(ratio.1));
    let (w, h) = if in_ratio < lo {
        (width, ((width as f64 / lo).round_ties_even() as usize).clamp(1, height))
    } else if in_ratio > hi {
        (((height as f64 * hi).round_ties_even() as usize).clamp(1, width), height)
    } else {
        (width, height)
    };
    CropBox { top: (height - h) / 2, left: (width - w) / 2, height: h, width: w }
}

/// Uniform in [lo, hi), like `torch.empty(1).uniform_(lo, hi)`; a degenerate range gives `lo`.
pub(crate) fn uniform<R: Rng + ?Sized>(rng: &mut R, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.gen::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn boxes_fit_and_fallback_is_centred_and_ratio_clamped() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for _ in 0..2000 {
            let b = sample_crop(500, 375, (0.2, 1.0), (0.75, 4.0 / 3.0), &mut rng);
            assert!(b.width > 0 && b.height > 0);
            assert!(b.left + b.width <= 500 && b.top + b.height <= 375);
        }
        // An image far wider than 4/3 with scale 1 can never fit: fallback height = full, w = h*4/3.
        let b = sample_crop(1000, 10, (1.0, 1.0), (0.75, 4.0 / 3.0), &mut rng);
        assert_eq!((b.height, b.width), (10, 13));
        assert_eq!(b.left, (1000 - 13) / 2);
        // Far taller than 3/4: width = full, h = round(w / (3/4)).
        let b = sample_crop(9, 1000, (1.0, 1.0), (0.75, 4.0 / 3.0), &mut rng);
        assert_eq!((b.height, b.width), (12, 9));
        assert_eq!(b.top, (1000 - 12) / 2);
    }
}

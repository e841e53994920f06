//! The published augmentation recipes: their default values and the order of their operations.
//!
//! A recipe is two facts taken from its authors' code: the parameters of each operation and the
//! order in which the operations run (and draw their random numbers). RandomResizedCrop always
//! comes first; the other steps follow in [`Recipe::steps`] order. The values are those of the
//! reference repositories, cited per variant; where a reference differs from torchvision's
//! operations (TensorFlow crops, OpenCV blur), we keep torchvision/PIL's and say so.
//!
//! Normalisation is not part of a recipe: the view is normalised with the teacher's statistics
//! (CLIP's by default), whatever recipe produced it.

use serde::{Deserialize, Serialize};

/// Which published augmentation recipe the pipeline composes (`recipe = "..."` in the config);
/// it sets the defaults of every other `[augmentation]` field, which may still be overridden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Recipe {
    /// MoCo v1 (He et al. 2019), `main_moco.py` without `--aug-plus` in facebookresearch/moco:
    /// RandomResizedCrop(224, scale 0.2–1), RandomGrayscale(0.2), then ColorJitter(0.4, 0.4,
    /// 0.4, 0.4) on every image (no RandomApply), flip. Grayscale runs *before* the jitter, so
    /// a grey view still gets brightness and contrast changes. No blur.
    Mocov1,
    /// MoCo v2 (Chen et al. 2020), `main_moco.py --aug-plus`: RandomResizedCrop(224, scale
    /// 0.2–1), ColorJitter(0.4, 0.4, 0.4, 0.1) with p 0.8, RandomGrayscale(0.2), GaussianBlur with
    /// sigma uniform in [0.1, 2] (PIL's filter, radius = sigma) with p 0.5, flip.
    #[default]
    Mocov2,
    /// SimCLR (Chen et al. 2020), google-research/simclr `data_util.preprocess_for_train` with
    /// colour strength s = 1: crop with area 0.08–1 and ratio 3/4–4/3, flip, ColorJitter(0.8s,
    /// 0.8s, 0.8s, 0.2s) with p 0.8, grayscale 0.2, then Gaussian blur with p 0.5 and sigma
    /// uniform in [0.1, 2]. Differences kept on purpose: the crop is torchvision's
    /// RandomResizedCrop (10 attempts, centred fallback) rather than TensorFlow's
    /// `sample_distorted_bounding_box` (100 attempts); the blur is PIL's with radius = sigma,
    /// which spreads as far as it needs, where SimCLR truncates its kernel at height // 10 = 22
    /// pixels (±11: beyond 5.5 sigma even at sigma 2, so the truncation changes almost nothing).
    Simclr,
    /// SwAV's global-crop transform (Caron et al. 2020), facebookresearch/swav
    /// `src/multicropdataset.py` with `main_swav.py`'s defaults: RandomResizedCrop(224, scale
    /// 0.14–1), flip, colour distortion (ColorJitter(0.8, 0.8, 0.8, 0.2) with p 0.8, grayscale
    /// 0.2), Gaussian blur with p 0.5 and sigma uniform in [0.1, 2]. Multi-crop (the extra
    /// 96-pixel crops of scale 0.05–0.14) needs several views per image and is not provided: this
    /// is one 224-pixel global view per image. SwAV blurs with OpenCV and a 23×23 kernel; the blur
    /// here is PIL's with radius = sigma, as for SimCLR.
    Swav,
}

/// One step after the crop, in the order a recipe runs (and draws) them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// ColorJitter behind its apply gate (`jitter_p`).
    Jitter,
    /// RandomGrayscale (`grayscale_p`).
    Grayscale,
    /// GaussianBlur behind its apply gate (`blur_p`).
    Blur,
    /// RandomHorizontalFlip (`flip_p`).
    Flip,
}

/// The values a recipe gives to the `[augmentation]` fields it owns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecipeDefaults {
    /// RandomResizedCrop area fraction (min, max).
    pub crop_scale: [f64; 2],
    /// Probability that ColorJitter is applied (1: always).
    pub jitter_p: f64,
    /// ColorJitter (brightness, contrast, saturation, hue) strengths.
    pub jitter: [f32; 4],
    /// RandomGrayscale probability.
    pub grayscale_p: f64,
    /// GaussianBlur probability (0: the recipe has no blur).
    pub blur_p: f64,
}

impl Recipe {
    /// The recipe's published parameter values.
    pub fn defaults(self) -> RecipeDefaults {
        // SimCLR's colour distortion at strength s = 1, which SwAV reuses.
        let simclr_jitter = [0.8, 0.8, 0.8, 0.2];
        match self {
            Recipe::Mocov1 => RecipeDefaults {
                crop_scale: [0.2, 1.0],
                jitter_p: 1.0,
                jitter: [0.4; 4],
                grayscale_p: 0.2,
                blur_p: 0.0,
            },
            Recipe::Mocov2 => RecipeDefaults {
                crop_scale: [0.2, 1.0],
                jitter_p: 0.8,
                jitter: [0.4, 0.4, 0.4, 0.1],
                grayscale_p: 0.2,
                blur_p: 0.5,
            },
            Recipe::Simclr => RecipeDefaults {
                crop_scale: [0.08, 1.0],
                jitter_p: 0.8,
                jitter: simclr_jitter,
                grayscale_p: 0.2,
                blur_p: 0.5,
            },
            Recipe::Swav => RecipeDefaults {
                crop_scale: [0.14, 1.0],
                jitter_p: 0.8,
                jitter: simclr_jitter,
                grayscale_p: 0.2,
                blur_p: 0.5,
            },
        }
    }

    /// The steps after the crop, in the reference code's `Compose` order. Flip commutes with the
    /// others, but its place still fixes the order of the random draws. A blur enabled by hand in
    /// MoCo v1 (`blur_p > 0`) runs after its jitter, as in MoCo v2.
    pub fn steps(self) -> &'static [Step; 4] {
        use Step::*;
        match self {
            Recipe::Mocov1 => &[Grayscale, Jitter, Blur, Flip],
            Recipe::Mocov2 => &[Jitter, Grayscale, Blur, Flip],
            Recipe::Simclr | Recipe::Swav => &[Flip, Jitter, Grayscale, Blur],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recipe_runs_each_step_once() {
        for r in [Recipe::Mocov1, Recipe::Mocov2, Recipe::Simclr, Recipe::Swav] {
            let steps = r.steps();
            for s in [Step::Jitter, Step::Grayscale, Step::Blur, Step::Flip] {
                assert_eq!(steps.iter().filter(|&&x| x == s).count(), 1, "{r:?} {s:?}");
            }
        }
        assert_eq!(Recipe::Mocov1.steps()[..2], [Step::Grayscale, Step::Jitter], "MoCo v1 greys before jittering");
    }
}

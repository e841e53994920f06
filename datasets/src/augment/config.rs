//! `AugmentationConfig`: the training-view recipe as it appears in a run's TOML.
//!
//! Defaults are the MoCo-v2 recipe of DESIGN §1, so an empty `[augmentation]` table is the
//! published setting. Unknown keys are refused (a typo must not silently fall back to a default),
//! and [`AugmentationConfig::validate`] lists every bad value with the field that holds it.

use serde::{Deserialize, Serialize};

use super::normalize::{CLIP_MEAN, CLIP_STD};

/// Which published augmentation recipe the pipeline composes.
///
/// Only MoCo-v2 exists today; MoCo-v1 (stronger jitter, no blur), SimCLR (jitter 0.8) and
/// SwAV-style multi-crop are further variants of this enum, each with its own defaults and
/// composition in [`super::pipeline`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Recipe {
    /// RandomResizedCrop, ColorJitter (p), RandomGrayscale, GaussianBlur (p), flip (He et al. 2020).
    #[default]
    Mocov2,
}

/// The training augmentation and the evaluation transform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AugmentationConfig {
    /// The recipe (composition of operations).
    pub recipe: Recipe,
    /// Side of the square training view, in pixels.
    pub output_size: usize,
    /// RandomResizedCrop area fraction (min, max).
    pub crop_scale: [f64; 2],
    /// RandomResizedCrop aspect ratio width/height (min, max).
    pub crop_ratio: [f64; 2],
    /// Probability that ColorJitter is applied.
    pub jitter_p: f64,
    /// ColorJitter brightness strength (factor in [1 − s, 1 + s]).
    pub brightness: f32,
    /// ColorJitter contrast strength.
    pub contrast: f32,
    /// ColorJitter saturation strength.
    pub saturation: f32,
    /// ColorJitter hue strength (shift in [−h, h]), at most 0.5.
    pub hue: f32,
    /// Probability of RandomGrayscale.
    pub grayscale_p: f64,
    /// Probability that GaussianBlur is applied.
    pub blur_p: f64,
    /// GaussianBlur sigma range (PIL radius), drawn uniformly.
    pub blur_sigma: [f32; 2],
    /// Probability of a horizontal flip.
    pub flip_p: f64,
    /// Normalisation mean per channel (the teacher's: CLIP).
    pub mean: [f32; 3],
    /// Normalisation standard deviation per channel.
    pub std: [f32; 3],
    /// Evaluation: shorter side after resizing.
    pub eval_resize: usize,
    /// Evaluation: side of the centre crop.
    pub eval_crop: usize,
}

impl Default for AugmentationConfig {
    fn default() -> Self {
        Self {
            recipe: Recipe::Mocov2,
            output_size: 224,
            crop_scale: [0.2, 1.0],
            crop_ratio: [3.0 / 4.0, 4.0 / 3.0],
            jitter_p: 0.8,
            brightness: 0.4,
            contrast: 0.4,
            saturation: 0.4,
            hue: 0.1,
            grayscale_p: 0.2,
            blur_p: 0.5,
            blur_sigma: [0.1, 2.0],
            flip_p: 0.5,
            mean: CLIP_MEAN,
            std: CLIP_STD,
            eval_resize: 256,
            eval_crop: 224,
        }
    }
}

/// Largest view side accepted; beyond it a typo (e.g. 2240) would exhaust worker memory.
const MAX_SIDE: usize = 4096;

impl AugmentationConfig {
    /// Every bad value as (field name, what is wrong); empty when the config is usable.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut bad = Vec::new();
        let mut check = |ok: bool, field: &str, msg: &str| {
            if !ok {
                bad.push((field.to_string(), msg.to_string()));
            }
        };
        let side_ok = |s: usize| s > 0 && s <= MAX_SIDE;
        check(side_ok(self.output_size), "output_size", "must be in 1..=4096 pixels");
        check(side_ok(self.eval_resize), "eval_resize", "must be in 1..=4096 pixels");
        check(side_ok(self.eval_crop), "eval_crop", "must be in 1..=4096 pixels");
        check(self.eval_crop <= self.eval_resize, "eval_crop", "must be <= eval_resize");
        let [s0, s1] = self.crop_scale;
        check(s0 > 0.0 && s0 <= s1 && s1 <= 1.0, "crop_scale", "min must be > 0 and <= max, max <= 1");
        let [r0, r1] = self.crop_ratio;
        check(r0 > 0.0 && r0 <= r1 && r1.is_finite(), "crop_ratio", "min must be > 0 and <= max (finite)");
        for (name, p) in [
            ("jitter_p", self.jitter_p),
            ("grayscale_p", self.grayscale_p),
            ("blur_p", self.blur_p),
            ("flip_p", self.flip_p),
        ] {
            check((0.0..=1.0).contains(&p), name, "a probability must be in [0, 1]");
        }
        for (name, s) in
            [("brightness", self.brightness), ("contrast", self.contrast), ("saturation", self.saturation)]
        {
            check(s >= 0.0 && s.is_finite(), name, "strength must be >= 0 and finite");
        }
        check((0.0..=0.5).contains(&self.hue), "hue", "strength must be in [0, 0.5]");
        let [b0, b1] = self.blur_sigma;
        check(b0 > 0.0 && b0 <= b1 && b1.is_finite(), "blur_sigma", "min must be > 0 and <= max (finite)");
        check(self.mean.iter().all(|m| m.is_finite()), "mean", "must be finite");
        check(self.std.iter().all(|s| *s > 0.0 && s.is_finite()), "std", "every entry must be > 0 and finite");
        bad
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        assert!(AugmentationConfig::default().validate().is_empty());
        let c = AugmentationConfig {
            crop_scale: [0.0, 1.0],
            hue: 0.7,
            flip_p: 1.5,
            std: [0.2, 0.0, 0.2],
            blur_sigma: [2.0, 0.1],
            ..Default::default()
        };
        let fields: Vec<String> = c.validate().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["crop_scale", "flip_p", "hue", "blur_sigma", "std"]);
        let nan = AugmentationConfig { jitter_p: f64::NAN, ..Default::default() };
        assert_eq!(nan.validate()[0].0, "jitter_p");
    }

    #[test]
    fn serde_defaults_and_unknown_fields() {
        let c: AugmentationConfig = serde_json::from_str(r#"{"recipe": "mocov2", "hue": 0.2}"#).unwrap();
        assert_eq!(c, AugmentationConfig { hue: 0.2, ..Default::default() });
        let e = serde_json::from_str::<AugmentationConfig>(r#"{"crop_scal": [0.1, 1.0]}"#).unwrap_err();
        assert!(e.to_string().contains("crop_scal"), "{e}");
        assert!(serde_json::from_str::<AugmentationConfig>(r#"{"recipe": "byol"}"#).is_err());
    }
}

//! `AugmentationConfig`: the training-view recipe as it appears in a run's TOML.
//!
//! `recipe` picks a published recipe ([`Recipe`]) whose values fill every field the file leaves
//! out; a field the file gives overrides the recipe's value. Without `recipe` it is MoCo-v2 (DESIGN
//! §1), so an empty `[augmentation]` table is the published setting. Unknown keys are refused (a
//! typo must not silently fall back to a default), and [`AugmentationConfig::validate`] lists
//! every bad value with the field that holds it. The resolved config serialises with every field,
//! so a saved run config reads back the same whatever the recipe's defaults become.

use serde::{Deserialize, Serialize};

use super::normalize::{CLIP_MEAN, CLIP_STD};
pub use super::recipe::Recipe;

/// The training augmentation and the evaluation transform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "Overrides")]
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
    #[serde(serialize_with = "as_written::scalar")]
    pub brightness: f32,
    /// ColorJitter contrast strength.
    #[serde(serialize_with = "as_written::scalar")]
    pub contrast: f32,
    /// ColorJitter saturation strength.
    #[serde(serialize_with = "as_written::scalar")]
    pub saturation: f32,
    /// ColorJitter hue strength (shift in [−h, h]), at most 0.5.
    #[serde(serialize_with = "as_written::scalar")]
    pub hue: f32,
    /// Probability of RandomGrayscale.
    pub grayscale_p: f64,
    /// Probability that GaussianBlur is applied.
    pub blur_p: f64,
    /// GaussianBlur sigma range (PIL radius), drawn uniformly.
    #[serde(serialize_with = "as_written::array")]
    pub blur_sigma: [f32; 2],
    /// Probability of a horizontal flip.
    pub flip_p: f64,
    /// Normalisation mean per channel (the teacher's: CLIP).
    #[serde(serialize_with = "as_written::array")]
    pub mean: [f32; 3],
    /// Normalisation standard deviation per channel.
    #[serde(serialize_with = "as_written::array")]
    pub std: [f32; 3],
    /// Evaluation: shorter side after resizing.
    pub eval_resize: usize,
    /// Evaluation: side of the centre crop.
    pub eval_crop: usize,
    /// Decode a training view's JPEG at a reduced DCT scale when the crop allows, and only the
    /// crop's rows and columns ([`crate::decode::Header::decode_region`]): faster, close to the full-size
    /// path but not byte-equal to it. Off: the whole image at full size, as PIL decodes it.
    pub fast_decode: bool,
    /// Where jitter, grayscale, blur and normalisation run: on the decode workers (`host`), or
    /// batched on the training device (`device`), the workers then delivering u8 views and their
    /// parameters; `auto` (the default): on the device when the training device is a GPU, on the
    /// host otherwise. The pixels are the same either way (tested); `device` takes the work off the
    /// CPU where a GPU does it in a fraction of the time, but on a CPU device the batched maths
    /// costs more than the per-image host code.
    pub photometric: PhotometricPlace,
}

/// Where a view's photometric operations run (`photometric = "auto" | "host" | "device"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PhotometricPlace {
    /// `device` when the run trains on a GPU, `host` otherwise (the default): resolved where the
    /// training device is known ([`PhotometricPlace::resolve`]).
    #[default]
    Auto,
    /// On the decode workers, per image.
    Host,
    /// Batched on the training device, after the copy.
    Device,
}

impl PhotometricPlace {
    /// Where the operations run for a run whose training device is a GPU (`gpu`) or the CPU:
    /// `auto` resolved, `host` and `device` as written. A library caller that never resolves
    /// (no training device, e.g. a data-only tool) gets the host for `auto` from the workers.
    pub fn resolve(self, gpu: bool) -> Self {
        match self {
            Self::Auto if gpu => Self::Device,
            Self::Auto => Self::Host,
            place => place,
        }
    }

    /// The name as written in a config (`auto`, `host`, `device`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Host => "host",
            Self::Device => "device",
        }
    }
}

impl Default for AugmentationConfig {
    fn default() -> Self {
        Self::for_recipe(Recipe::default())
    }
}

impl AugmentationConfig {
    /// `recipe` with its published values, a 224-pixel view, CLIP normalisation, the standard
    /// evaluation transform (Resize 256, CenterCrop 224) and fast decoding.
    pub fn for_recipe(recipe: Recipe) -> Self {
        let d = recipe.defaults();
        Self {
            recipe,
            output_size: 224,
            crop_scale: d.crop_scale,
            crop_ratio: [3.0 / 4.0, 4.0 / 3.0],
            jitter_p: d.jitter_p,
            brightness: d.jitter[0],
            contrast: d.jitter[1],
            saturation: d.jitter[2],
            hue: d.jitter[3],
            grayscale_p: d.grayscale_p,
            blur_p: d.blur_p,
            blur_sigma: [0.1, 2.0],
            flip_p: 0.5,
            mean: CLIP_MEAN,
            std: CLIP_STD,
            eval_resize: 256,
            eval_crop: 224,
            fast_decode: true,
            photometric: PhotometricPlace::Auto,
        }
    }
}

/// The `[augmentation]` table as written: every field optional, the rest from the recipe.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Overrides {
    recipe: Option<Recipe>,
    output_size: Option<usize>,
    crop_scale: Option<[f64; 2]>,
    crop_ratio: Option<[f64; 2]>,
    jitter_p: Option<f64>,
    brightness: Option<f32>,
    contrast: Option<f32>,
    saturation: Option<f32>,
    hue: Option<f32>,
    grayscale_p: Option<f64>,
    blur_p: Option<f64>,
    blur_sigma: Option<[f32; 2]>,
    flip_p: Option<f64>,
    mean: Option<[f32; 3]>,
    std: Option<[f32; 3]>,
    eval_resize: Option<usize>,
    eval_crop: Option<usize>,
    fast_decode: Option<bool>,
    photometric: Option<PhotometricPlace>,
}

impl From<Overrides> for AugmentationConfig {
    fn from(o: Overrides) -> Self {
        let d = Self::for_recipe(o.recipe.unwrap_or_default());
        Self {
            recipe: d.recipe,
            output_size: o.output_size.unwrap_or(d.output_size),
            crop_scale: o.crop_scale.unwrap_or(d.crop_scale),
            crop_ratio: o.crop_ratio.unwrap_or(d.crop_ratio),
            jitter_p: o.jitter_p.unwrap_or(d.jitter_p),
            brightness: o.brightness.unwrap_or(d.brightness),
            contrast: o.contrast.unwrap_or(d.contrast),
            saturation: o.saturation.unwrap_or(d.saturation),
            hue: o.hue.unwrap_or(d.hue),
            grayscale_p: o.grayscale_p.unwrap_or(d.grayscale_p),
            blur_p: o.blur_p.unwrap_or(d.blur_p),
            blur_sigma: o.blur_sigma.unwrap_or(d.blur_sigma),
            flip_p: o.flip_p.unwrap_or(d.flip_p),
            mean: o.mean.unwrap_or(d.mean),
            std: o.std.unwrap_or(d.std),
            eval_resize: o.eval_resize.unwrap_or(d.eval_resize),
            eval_crop: o.eval_crop.unwrap_or(d.eval_crop),
            fast_decode: o.fast_decode.unwrap_or(d.fast_decode),
            photometric: o.photometric.unwrap_or(d.photometric),
        }
    }
}

/// `f32` fields serialised as the shortest decimal that reads back as the same `f32` (0.4, not
/// the 0.4000000059604645 of its widening to `f64`), so a printed or saved config shows what the
/// user wrote.
mod as_written {
    use serde::{Serialize, Serializer};

    fn widened(value: f32) -> f64 {
        value.to_string().parse().unwrap_or(f64::from(value))
    }

    pub fn scalar<S: Serializer>(value: &f32, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(widened(*value))
    }

    pub fn array<S: Serializer, const N: usize>(values: &[f32; N], serializer: S) -> Result<S::Ok, S::Error> {
        values.map(widened).serialize(serializer)
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
        for (name, s) in [("brightness", self.brightness), ("contrast", self.contrast), ("saturation", self.saturation)]
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
        let empty: AugmentationConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, AugmentationConfig::default());
        let e = serde_json::from_str::<AugmentationConfig>(r#"{"crop_scal": [0.1, 1.0]}"#).unwrap_err();
        assert!(e.to_string().contains("crop_scal"), "{e}");
        assert!(serde_json::from_str::<AugmentationConfig>(r#"{"recipe": "byol"}"#).is_err());
    }

    #[test]
    fn a_recipe_sets_its_published_values_and_explicit_fields_win() {
        let parse = |s: &str| serde_json::from_str::<AugmentationConfig>(s).unwrap();
        let v1 = parse(r#"{"recipe": "mocov1"}"#);
        assert_eq!((v1.crop_scale, v1.jitter_p, v1.grayscale_p, v1.blur_p), ([0.2, 1.0], 1.0, 0.2, 0.0));
        assert_eq!([v1.brightness, v1.contrast, v1.saturation, v1.hue], [0.4; 4]);
        let simclr = parse(r#"{"recipe": "simclr"}"#);
        assert_eq!(
            (simclr.crop_scale, simclr.jitter_p, simclr.grayscale_p, simclr.blur_p),
            ([0.08, 1.0], 0.8, 0.2, 0.5)
        );
        assert_eq!([simclr.brightness, simclr.contrast, simclr.saturation, simclr.hue], [0.8, 0.8, 0.8, 0.2]);
        assert_eq!(simclr.blur_sigma, [0.1, 2.0]);
        let swav = parse(r#"{"recipe": "swav"}"#);
        assert_eq!(swav, AugmentationConfig { recipe: Recipe::Swav, crop_scale: [0.14, 1.0], ..simclr.clone() });
        for c in [&v1, &simclr, &swav] {
            assert!(c.validate().is_empty(), "{:?}", c.recipe);
            assert_eq!(
                (c.output_size, c.mean, c.flip_p, c.fast_decode),
                (224, CLIP_MEAN, 0.5, true),
                "shared defaults"
            );
        }
        // An explicit field overrides the recipe; the others keep the recipe's values.
        let tuned = parse(r#"{"recipe": "simclr", "hue": 0.1, "blur_p": 0.0, "fast_decode": false}"#);
        assert_eq!(tuned, AugmentationConfig { hue: 0.1, blur_p: 0.0, fast_decode: false, ..simclr.clone() });
        // The resolved config writes every field, so it reads back equal.
        assert_eq!(parse(&serde_json::to_string(&tuned).unwrap()), tuned);
        let device = parse(r#"{"photometric": "device"}"#);
        assert_eq!(device, AugmentationConfig { photometric: PhotometricPlace::Device, ..Default::default() });
        assert_eq!(parse("{}").photometric, PhotometricPlace::Auto, "auto is the default");
        let resolved = [true, false].map(|gpu| PhotometricPlace::Auto.resolve(gpu));
        assert_eq!(resolved, [PhotometricPlace::Device, PhotometricPlace::Host], "auto: device on a GPU only");
        assert_eq!(PhotometricPlace::Host.resolve(true), PhotometricPlace::Host, "an explicit place stays");
        assert_eq!(PhotometricPlace::Device.resolve(false), PhotometricPlace::Device);
        assert!(serde_json::from_str::<AugmentationConfig>(r#"{"photometric": "gpu"}"#).is_err());
    }
}

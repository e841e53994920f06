//! The composed training view of a recipe, with per-sample parameters that can be replayed.
//!
//! Parameters are drawn first ([`ViewParams`]), from the stream of (seed, epoch, sample index),
//! then applied: the split lets a worker regenerate any view exactly, lets tests compare the
//! samplers with torchvision's independently of the pixel maths, and lets the photometric part
//! move to the GPU later with the same parameters.

use rand::Rng;

use super::blur::{gaussian_blur_with, BlurScratch};
use super::color_jitter::{apply_jitter, sample_jitter, JitterParams, JitterStrength};
use super::config::AugmentationConfig;
use super::flip::hflip;
use super::grayscale::to_grayscale;
use super::normalize::to_tensor_normalized_into;
use super::recipe::Step;
use super::resize::{resized_box_into, ResizeScratch, SubpixelBox};
use super::resized_crop::{sample_crop, uniform};
use super::rng::sample_rng;
use super::CropBox;
use crate::rgb::RgbImage;

/// A configuration that failed [`AugmentationConfig::validate`].
#[derive(Debug, thiserror::Error)]
#[error("invalid augmentation config: {}", .problems.iter().map(|(f, m)| format!("augmentation.{f}: {m}")).collect::<Vec<_>>().join("; "))]
pub struct InvalidConfig {
    /// (field, message) pairs.
    pub problems: Vec<(String, String)>,
}

/// Everything random about one training view.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewParams {
    /// RandomResizedCrop's box in the source image.
    pub crop: CropBox,
    /// ColorJitter's parameters when it is applied.
    pub jitter: Option<JitterParams>,
    /// Whether RandomGrayscale fires.
    pub grayscale: bool,
    /// GaussianBlur's sigma when it is applied.
    pub blur_sigma: Option<f32>,
    /// Whether the view is mirrored.
    pub flip: bool,
}

/// One worker's reusable buffers for [`Augmenter::apply_into`] (the resize intermediate and taps,
/// the blur planes). Not shared between threads: each worker owns one.
#[derive(Debug, Default)]
pub struct Workspace {
    resize: ResizeScratch,
    blur: BlurScratch,
}

/// The training augmentation of a validated config.
#[derive(Debug, Clone)]
pub struct Augmenter {
    config: AugmentationConfig,
    jitter: JitterStrength,
}

impl Augmenter {
    /// Checks the config and builds the pipeline.
    pub fn new(config: AugmentationConfig) -> Result<Self, InvalidConfig> {
        let problems = config.validate();
        if !problems.is_empty() {
            return Err(InvalidConfig { problems });
        }
        let jitter = JitterStrength {
            brightness: config.brightness,
            contrast: config.contrast,
            saturation: config.saturation,
            hue: config.hue,
        };
        Ok(Self { config, jitter })
    }

    /// The config it was built from.
    pub fn config(&self) -> &AugmentationConfig {
        &self.config
    }

    /// Draws a view's parameters for a `width`×`height` source in the recipe's order: the crop,
    /// then each step of [`super::Recipe::steps`] (a jitter or blur gate, then its parameters when
    /// it fires). For MoCo-v2 that is torchvision's order: crop, jitter, grayscale, blur, flip.
    pub fn sample_params<R: Rng + ?Sized>(&self, width: usize, height: usize, rng: &mut R) -> ViewParams {
        let c = &self.config;
        let crop =
            sample_crop(width, height, (c.crop_scale[0], c.crop_scale[1]), (c.crop_ratio[0], c.crop_ratio[1]), rng);
        let mut p = ViewParams { crop, jitter: None, grayscale: false, blur_sigma: None, flip: false };
        for step in c.recipe.steps() {
            match step {
                Step::Jitter => {
                    p.jitter = (rng.gen::<f64>() < c.jitter_p).then(|| sample_jitter(&self.jitter, rng));
                }
                Step::Grayscale => p.grayscale = rng.gen::<f64>() < c.grayscale_p,
                Step::Blur => {
                    p.blur_sigma = (rng.gen::<f64>() < c.blur_p)
                        .then(|| uniform(rng, f64::from(c.blur_sigma[0]), f64::from(c.blur_sigma[1])) as f32);
                }
                Step::Flip => p.flip = rng.gen::<f64>() < c.flip_p,
            }
        }
        p
    }

    /// The parameters of sample `index` of `epoch` in a run seeded with `seed`: the same triple
    /// always gives the same view, in any order and on any worker.
    pub fn params_for(&self, seed: u64, epoch: u64, index: u64, width: usize, height: usize) -> ViewParams {
        self.sample_params(width, height, &mut sample_rng(seed, epoch, index))
    }

    /// Applies `p` to `img` (the source whose size the parameters were drawn for); returns the
    /// `output_size`² u8 view, before normalisation.
    pub fn apply(&self, img: &RgbImage, p: &ViewParams) -> RgbImage {
        let mut view = RgbImage::new(0, 0);
        self.apply_into(img, p, &mut Workspace::default(), &mut view);
        view
    }

    /// [`Augmenter::apply`] into `view` with a worker's [`Workspace`]: after the first image of a
    /// given size nothing is allocated. The steps after the crop run in the recipe's order (MoCo
    /// v1 greys before it jitters).
    pub fn apply_into(&self, img: &RgbImage, p: &ViewParams, ws: &mut Workspace, view: &mut RgbImage) {
        self.apply_box_into(img, p.crop.into(), p, ws, view);
    }

    /// [`Augmenter::apply_into`] with the crop given as `area` of `img`, which may have fractional
    /// edges: `img` is then a DCT-scaled window of the source that `p` was drawn for
    /// ([`crate::training_view`]); `p.crop` itself is not read.
    pub fn apply_box_into(
        &self,
        img: &RgbImage,
        area: SubpixelBox,
        p: &ViewParams,
        ws: &mut Workspace,
        view: &mut RgbImage,
    ) {
        self.apply_geometric_box_into(img, area, p, ws, view);
        self.apply_photometric(view, p, ws);
    }

    /// The geometric half of the view: crop + resize, then the flip. The flip commutes with every
    /// photometric operation (they are per pixel, or a mirror-symmetric blur with mirrored edges,
    /// or use the image mean), so running it first gives the same bytes as the recipe's order.
    /// With `photometric = "device"` this is all a worker does.
    pub fn apply_geometric_box_into(
        &self,
        img: &RgbImage,
        area: SubpixelBox,
        p: &ViewParams,
        ws: &mut Workspace,
        view: &mut RgbImage,
    ) {
        let s = self.config.output_size;
        resized_box_into(img, area, s, s, &mut ws.resize, view);
        if p.flip {
            hflip(view);
        }
    }

    /// The photometric half in the recipe's order (MoCo v1 greys before it jitters): what the
    /// tensor-side path (`lgd::photometric`) does to a whole batch.
    pub fn apply_photometric(&self, view: &mut RgbImage, p: &ViewParams, ws: &mut Workspace) {
        for step in self.config.recipe.steps() {
            match step {
                Step::Jitter => {
                    if let Some(j) = &p.jitter {
                        apply_jitter(view, j);
                    }
                }
                Step::Grayscale if p.grayscale => to_grayscale(view),
                Step::Blur => {
                    if let Some(sigma) = p.blur_sigma {
                        gaussian_blur_with(view, sigma, &mut ws.blur);
                    }
                }
                Step::Grayscale | Step::Flip => {}
            }
        }
    }

    /// Draws and applies the view of (seed, epoch, index).
    pub fn view(&self, img: &RgbImage, seed: u64, epoch: u64, index: u64) -> RgbImage {
        let p = self.params_for(seed, epoch, index, img.width(), img.height());
        self.apply(img, &p)
    }

    /// Normalises a view into its slot of a C×H×W f32 batch buffer.
    pub fn normalize_into(&self, view: &RgbImage, out: &mut [f32]) {
        to_tensor_normalized_into(view, self.config.mean, self.config.std, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_replay_exactly_and_bad_configs_are_refused() {
        let aug = Augmenter::new(AugmentationConfig::default()).unwrap();
        let img = RgbImage::from_raw(64, 48, (0..64 * 48 * 3).map(|v| (v * 7 % 256) as u8).collect()).unwrap();
        let a = aug.view(&img, 11, 2, 12345);
        let _ = aug.view(&img, 11, 2, 12346);
        assert_eq!(a, aug.view(&img, 11, 2, 12345));
        assert_eq!((a.width(), a.height()), (224, 224));
        let differs = (0..20).any(|i| aug.params_for(11, 2, i, 64, 48) != aug.params_for(11, 3, i, 64, 48));
        assert!(differs);
        let bad = AugmentationConfig { crop_scale: [0.5, 0.1], ..Default::default() };
        let e = Augmenter::new(bad).unwrap_err().to_string();
        assert!(e.contains("augmentation.crop_scale"), "{e}");
    }
}

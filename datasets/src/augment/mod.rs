//! Training and evaluation transforms with torchvision's PIL-path semantics, on [`RgbImage`].
//!
//! Module map (one concept per file):
//! - [`rng`]: the per-(seed, epoch, sample) random stream that makes every view replayable.
//! - [`resized_crop`]: RandomResizedCrop's box sampler (10 attempts, centred fallback).
//! - [`resize`]: crop + PIL antialiased bilinear resize, through `fast_image_resize` on a cropped view.
//! - [`color_jitter`]: ColorJitter's random order and factors; [`enhance`] (brightness, contrast,
//!   saturation) and [`hue`] hold the PIL maths of its four operations.
//! - [`grayscale`]: PIL's ITU-R 601-2 luma, RandomGrayscale's operation.
//! - [`blur`]: PIL's GaussianBlur (three extended box passes).
//! - [`flip`]: horizontal mirror.
//! - [`normalize`]: ToTensor + Normalize into C×H×W f32, with the CLIP and ImageNet constants.
//! - [`eval`]: Resize(256) + CenterCrop(224).
//! - [`recipe`]: the published recipes (MoCo v1/v2, SimCLR, SwAV's global crop): values and step order.
//! - [`config`]: the serde config, filled from the chosen recipe, with validation.
//! - [`pipeline`]: the composed view of a recipe, parameters drawn then applied.
//! - `simd`: compiles the hot loops twice (baseline, AVX2) and picks by CPU at run time.

pub mod blur;
pub mod color_jitter;
pub mod config;
pub mod enhance;
pub mod eval;
pub mod flip;
pub mod grayscale;
pub mod hue;
pub mod normalize;
pub mod pipeline;
pub mod recipe;
pub mod resize;
pub mod resized_crop;
pub mod rng;
mod simd;

pub use config::{AugmentationConfig, PhotometricPlace};

/// The revision of the views' pixels: bumped whenever the same config and seed give different
/// pixels (2: the crop's resize became fast_image_resize's, within 1 level of PIL's). Whatever is
/// stored per view — the teacher-output cache — is keyed by it, so a new build never replays keys
/// computed on an old build's pixels.
pub const VIEWS_REVISION: u32 = 2;
pub use pipeline::{Augmenter, InvalidConfig, ViewParams, Workspace};
pub use recipe::{Recipe, Step};

/// A crop window in pixels, as torchvision's (i, j, h, w): top row, left column, height, width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CropBox {
    /// First row (torchvision's i).
    pub top: usize,
    /// First column (j).
    pub left: usize,
    /// Rows (h).
    pub height: usize,
    /// Columns (w).
    pub width: usize,
}

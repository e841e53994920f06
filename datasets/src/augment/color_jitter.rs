//! ColorJitter: per-image random order of brightness, contrast, saturation and hue, with factors
//! drawn as torchvision draws them (`ColorJitter.get_params`).
//!
//! A strength s for brightness/contrast/saturation gives a factor uniform in [max(0, 1 − s), 1 + s];
//! a hue strength h gives a shift uniform in [−h, h]. A strength of 0 disables the operation (no
//! factor is drawn), like torchvision's `None`. The four operations run in a uniformly random order
//! (`torch.randperm(4)`), which matters: they do not commute.

use rand::seq::SliceRandom;
use rand::Rng;

use super::enhance::{adjust_brightness, adjust_contrast, adjust_saturation};
use super::hue::adjust_hue;
use super::resized_crop::uniform;
use crate::rgb::RgbImage;

/// One of ColorJitter's operations, numbered as torchvision's `fn_idx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JitterOp {
    /// 0: brightness.
    Brightness = 0,
    /// 1: contrast.
    Contrast = 1,
    /// 2: saturation.
    Saturation = 2,
    /// 3: hue.
    Hue = 3,
}

const OPS: [JitterOp; 4] = [JitterOp::Brightness, JitterOp::Contrast, JitterOp::Saturation, JitterOp::Hue];

/// Jitter strengths (torchvision's constructor arguments).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JitterStrength {
    /// Brightness strength s ≥ 0.
    pub brightness: f32,
    /// Contrast strength s ≥ 0.
    pub contrast: f32,
    /// Saturation strength s ≥ 0.
    pub saturation: f32,
    /// Hue strength in [0, 0.5].
    pub hue: f32,
}

/// The parameters of one jitter: the order and each factor (`None` = operation disabled).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JitterParams {
    /// The order in which the operations run.
    pub order: [JitterOp; 4],
    /// Brightness factor.
    pub brightness: Option<f32>,
    /// Contrast factor.
    pub contrast: Option<f32>,
    /// Saturation factor.
    pub saturation: Option<f32>,
    /// Hue shift in [−0.5, 0.5].
    pub hue: Option<f32>,
}

/// Draws the order, then the factors in torchvision's order (brightness, contrast, saturation, hue).
pub fn sample_jitter<R: Rng + ?Sized>(strength: &JitterStrength, rng: &mut R) -> JitterParams {
    let mut order = OPS;
    order.shuffle(rng);
    let mut factor = |s: f32| (s > 0.0).then(|| uniform(rng, f64::from((1.0 - s).max(0.0)), f64::from(1.0 + s)) as f32);
    let brightness = factor(strength.brightness);
    let contrast = factor(strength.contrast);
    let saturation = factor(strength.saturation);
    let hue = (strength.hue > 0.0).then(|| uniform(rng, f64::from(-strength.hue), f64::from(strength.hue)) as f32);
    JitterParams { order, brightness, contrast, saturation, hue }
}

/// Applies the jitter in its order.
pub fn apply_jitter(img: &mut RgbImage, p: &JitterParams) {
    for op in p.order {
        match op {
            JitterOp::Brightness => p.brightness.map(|f| adjust_brightness(img, f)),
            JitterOp::Contrast => p.contrast.map(|f| adjust_contrast(img, f)),
            JitterOp::Saturation => p.saturation.map(|f| adjust_saturation(img, f)),
            JitterOp::Hue => p.hue.map(|f| adjust_hue(img, f)),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn factors_stay_in_range_and_zero_strength_disables() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let s = JitterStrength { brightness: 0.4, contrast: 0.0, saturation: 1.5, hue: 0.1 };
        for _ in 0..1000 {
            let p = sample_jitter(&s, &mut rng);
            let b = p.brightness.unwrap();
            assert!((0.6..1.4).contains(&b));
            assert!(p.contrast.is_none());
            assert!((0.0..2.5).contains(&p.saturation.unwrap()));
            assert!((-0.1..0.1).contains(&p.hue.unwrap()));
            let mut o: Vec<u8> = p.order.iter().map(|&o| o as u8).collect();
            o.sort();
            assert_eq!(o, [0, 1, 2, 3]);
        }
    }
}

//! Dynamic loss scaling for fp16, as PyTorch's GradScaler: the loss is multiplied by `scale` before
//! backward; gradients are unscaled before the step; a step whose gradients hold inf/NaN is skipped
//! and the scale backs off; after `growth_interval` finite steps in a row the scale grows.

use tch::Tensor;

use crate::config::GradScalerSection;

/// Scaler state (saved in checkpoints).
#[derive(Debug, Clone, PartialEq)]
pub struct GradScaler {
    /// The current scale.
    pub scale: f64,
    /// Finite steps since the last growth or back-off.
    pub growth_tracker: u32,
    config: GradScalerSection,
}

/// What happened to a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaledStep {
    /// Gradients were finite: unscaled, the optimiser may step.
    Apply,
    /// Gradients held inf/NaN: skip the optimiser step.
    Skip,
}

impl GradScaler {
    /// A fresh scaler.
    pub fn new(config: GradScalerSection) -> Self {
        Self { scale: config.init_scale, growth_tracker: 0, config }
    }

    /// The loss to call backward on.
    pub fn scale_loss(&self, loss: &Tensor) -> Tensor {
        loss * self.scale
    }

    /// Unscales `gradients` in place, checks them, and updates the scale; says whether to step.
    pub fn unscale_and_update(&mut self, gradients: &[Tensor]) -> ScaledStep {
        let inverse = 1.0 / self.scale;
        let finite = tch::no_grad(|| {
            let flags: Vec<Tensor> = gradients
                .iter()
                .map(|gradient| {
                    let mut gradient = gradient.shallow_clone();
                    let _ = gradient.g_mul_scalar_(inverse);
                    gradient.isfinite().all()
                })
                .collect();
            // One host read per step, as PyTorch's GradScaler makes before the optimiser step (the
            // flags stay on the device until then).
            flags.is_empty() || Tensor::stack(&flags, 0).all().int64_value(&[]) != 0
        });
        if finite {
            self.growth_tracker += 1;
            if self.growth_tracker >= self.config.growth_interval {
                self.scale *= self.config.growth_factor;
                self.growth_tracker = 0;
            }
            ScaledStep::Apply
        } else {
            self.scale *= self.config.backoff_factor;
            self.growth_tracker = 0;
            ScaledStep::Skip
        }
    }
}

#[cfg(test)]
mod tests {
    use tch::{Device, Kind};

    use super::*;

    #[test]
    fn skips_and_backs_off_on_inf_grows_after_the_interval() {
        let config = GradScalerSection { init_scale: 1024.0, growth_factor: 2.0, backoff_factor: 0.5, growth_interval: 2 };
        let mut scaler = GradScaler::new(config);
        let g = Tensor::from_slice(&[1024.0f32, 2048.0]);
        assert_eq!(scaler.unscale_and_update(&[g.shallow_clone()]), ScaledStep::Apply);
        assert_eq!(Vec::<f32>::try_from(&g).unwrap(), vec![1.0, 2.0], "unscaled in place");
        let bad = Tensor::from_slice(&[f32::INFINITY, 1.0]);
        assert_eq!(scaler.unscale_and_update(&[bad]), ScaledStep::Skip);
        assert_eq!((scaler.scale, scaler.growth_tracker), (512.0, 0));
        let ok = || Tensor::ones([2], (Kind::Float, Device::Cpu));
        scaler.unscale_and_update(&[ok()]);
        scaler.unscale_and_update(&[ok()]);
        assert_eq!((scaler.scale, scaler.growth_tracker), (1024.0, 0), "grew after 2 finite steps");
        let nan = Tensor::from_slice(&[f32::NAN]);
        assert_eq!(scaler.unscale_and_update(&[nan]), ScaledStep::Skip);
    }
}

//! Dynamic loss scaling for fp16, as PyTorch's GradScaler: the loss is multiplied by `scale` before
//! backward; gradients are unscaled before the step; a step whose gradients hold inf/NaN is skipped
//! and the scale backs off; after `growth_interval` finite steps in a row the scale grows. The
//! scale, the count and the verdict live on the device, so a step never waits for them; the host
//! reads them only for a checkpoint.

use tch::{Device, Kind, Tensor};

use crate::config::GradScalerSection;
use crate::torch_ext::{unscale_and_check, TorchExtError};

/// Scaler state: the scale (one f32) and the finite steps since the last growth or back-off
/// (one i32), on the training device.
#[derive(Debug)]
pub struct GradScaler {
    scale: Tensor,
    growth_tracker: Tensor,
    config: GradScalerSection,
}

impl GradScaler {
    /// A fresh scaler on `device`.
    pub fn new(config: GradScalerSection, device: Device) -> Self {
        let scale = Tensor::full([1], config.init_scale, (Kind::Float, device));
        let growth_tracker = Tensor::zeros([1], (Kind::Int, device));
        Self { scale, growth_tracker, config }
    }

    /// The loss to call backward on.
    pub fn scale_loss(&self, loss: &Tensor) -> Tensor {
        loss * self.scale.view([])
    }

    /// Unscales `gradients` in place, checks them and updates the scale, all on the device.
    /// Returns the step's "found inf" flag (one f32: 1 = do not apply the step), set also where
    /// `loss_finite` (a bool scalar) is false; a non-finite loss leaves the scaler as it was.
    pub fn unscale_and_update(&mut self, gradients: &[Tensor], loss_finite: &Tensor) -> Result<Tensor, TorchExtError> {
        tch::no_grad(|| {
            let device = self.scale.device();
            let mut found_inf = Tensor::zeros([1], (Kind::Float, device));
            // As torch: the reciprocal in double, then back to float.
            let inverse = self.scale.to_kind(Kind::Double).reciprocal().to_kind(Kind::Float);
            if !gradients.is_empty() {
                unscale_and_check(gradients, &mut found_inf, &inverse)?;
            }
            let (scale_before, tracker_before) = (self.scale.copy(), self.growth_tracker.copy());
            let _ = self
                .scale
                .f_internal_amp_update_scale_(
                    &self.growth_tracker,
                    &found_inf,
                    self.config.growth_factor,
                    self.config.backoff_factor,
                    i64::from(self.config.growth_interval),
                )
                .map_err(|e| TorchExtError::Libtorch { operation: "update the loss scale", message: e.to_string() })?;
            self.scale.copy_(&self.scale.where_self(loss_finite, &scale_before));
            self.growth_tracker.copy_(&self.growth_tracker.where_self(loss_finite, &tracker_before));
            Ok(found_inf.maximum(&loss_finite.logical_not().to_kind(Kind::Float)))
        })
    }

    /// (scale, growth tracker) as a checkpoint keeps them: a read back from the device.
    pub fn state(&self) -> (f64, u32) {
        (self.scale.double_value(&[0]), self.growth_tracker.int64_value(&[0]) as u32)
    }

    /// Continues from a checkpoint's (scale, growth tracker).
    pub fn restore(&mut self, scale: f64, growth_tracker: u32) {
        let _ = self.scale.fill_(scale);
        let _ = self.growth_tracker.fill_(i64::from(growth_tracker));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finite() -> Tensor {
        Tensor::from(true)
    }

    fn skipped(found_inf: &Tensor) -> bool {
        found_inf.double_value(&[0]) != 0.0
    }

    #[test]
    fn skips_and_backs_off_on_inf_grows_after_the_interval() {
        let config =
            GradScalerSection { init_scale: 1024.0, growth_factor: 2.0, backoff_factor: 0.5, growth_interval: 2 };
        let mut scaler = GradScaler::new(config, Device::Cpu);
        let g = Tensor::from_slice(&[1024.0f32, 2048.0]);
        assert!(!skipped(&scaler.unscale_and_update(&[g.shallow_clone()], &finite()).unwrap()));
        assert_eq!(Vec::<f32>::try_from(&g).unwrap(), vec![1.0, 2.0], "unscaled in place");
        let bad = Tensor::from_slice(&[f32::INFINITY, 1.0]);
        assert!(skipped(&scaler.unscale_and_update(&[bad], &finite()).unwrap()));
        assert_eq!(scaler.state(), (512.0, 0));
        let ok = || Tensor::ones([2], (Kind::Float, Device::Cpu));
        assert!(!skipped(&scaler.unscale_and_update(&[ok()], &finite()).unwrap()));
        assert!(!skipped(&scaler.unscale_and_update(&[ok()], &finite()).unwrap()));
        assert_eq!(scaler.state(), (1024.0, 0), "grew after 2 finite steps");
        let nan = Tensor::from_slice(&[f32::NAN]);
        assert!(skipped(&scaler.unscale_and_update(&[nan], &finite()).unwrap()));
    }

    #[test]
    fn a_non_finite_loss_skips_the_step_and_leaves_the_scaler_alone() {
        let config =
            GradScalerSection { init_scale: 64.0, growth_factor: 2.0, backoff_factor: 0.5, growth_interval: 1 };
        let mut scaler = GradScaler::new(config, Device::Cpu);
        let nan = Tensor::from_slice(&[f32::NAN]);
        assert!(skipped(&scaler.unscale_and_update(&[nan], &Tensor::from(false)).unwrap()));
        assert_eq!(scaler.state(), (64.0, 0));
        let fine = Tensor::from_slice(&[1.0f32]);
        assert!(skipped(&scaler.unscale_and_update(&[fine], &Tensor::from(false)).unwrap()), "the loss alone decides");
        scaler.restore(8.0, 1);
        assert_eq!(scaler.state(), (8.0, 1));
    }
}

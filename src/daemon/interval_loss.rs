//! The mean loss over a log interval. With `logging.every_steps = N` a record's `loss` is one
//! batch's, as noisy as one batch; `mean_loss` is the mean of the interval's finite losses, summed
//! on the device step by step so that no step waits for a read-back, and read with the record.

use tch::{Kind, Tensor};

/// Device sums of the finite losses since the last record and of their count.
#[derive(Default)]
pub(super) struct IntervalLoss {
    sums: Option<(Tensor, Tensor)>,
}

impl IntervalLoss {
    /// Adds one step's loss (a device scalar); a NaN or infinite loss, whose step was skipped,
    /// is left out.
    pub(super) fn add(&mut self, loss: &Tensor) {
        let finite = loss.isfinite();
        let value = loss.detach().to_kind(Kind::Double).where_scalarother(&finite, 0.0);
        let one = finite.to_kind(Kind::Double);
        self.sums = Some(match self.sums.take() {
            None => (value, one),
            Some((sum, count)) => (sum + value, count + one),
        });
    }

    /// The interval's mean as a device scalar (NaN when every loss was non-finite or none was
    /// added), and a fresh interval.
    pub(super) fn take(&mut self, device: tch::Device) -> Tensor {
        match self.sums.take() {
            Some((sum, count)) => sum / count,
            None => Tensor::from(f64::NAN).to_device(device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(value: f32) -> Tensor {
        Tensor::from(value)
    }

    #[test]
    fn the_mean_leaves_out_non_finite_losses_and_starts_afresh() {
        let mut interval = IntervalLoss::default();
        for loss in [2.0, f32::NAN, 4.0, f32::INFINITY] {
            interval.add(&scalar(loss));
        }
        assert_eq!(interval.take(tch::Device::Cpu).double_value(&[]), 3.0);
        interval.add(&scalar(5.0));
        assert_eq!(interval.take(tch::Device::Cpu).double_value(&[]), 5.0, "the next interval starts empty");
        assert!(interval.take(tch::Device::Cpu).double_value(&[]).is_nan(), "an empty interval has no mean");
        interval.add(&scalar(f32::NAN));
        assert!(interval.take(tch::Device::Cpu).double_value(&[]).is_nan(), "nor one of skipped steps alone");
    }
}

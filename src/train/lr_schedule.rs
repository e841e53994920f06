//! The learning rate of the published recipe: linear warm-up from `warmup_start` to the scaled rate
//! over the warm-up epochs, then lr = scaled · ½(1 + cos(π · epoch / epochs)). The published code
//! evaluates it once per epoch (integer epochs); per step, the epoch is fractional.

use crate::config::{Config, ScheduleGranularity};

/// The schedule, resolved from a config.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LrSchedule {
    /// The scaled peak rate: lr · batch / reference batch.
    pub peak: f64,
    /// Where warm-up starts.
    pub warmup_start: f64,
    /// Warm-up length in epochs.
    pub warmup_epochs: f64,
    /// Training length in epochs.
    pub epochs: f64,
    /// Per step or per epoch.
    pub granularity: ScheduleGranularity,
}

impl LrSchedule {
    /// From a validated config (the unscaled base lr starts the warm-up unless set).
    pub fn from_config(config: &Config) -> Self {
        Self {
            peak: config.scaled_lr(),
            warmup_start: config.schedule.warmup_start_lr.unwrap_or(config.optimizer.lr),
            warmup_epochs: config.schedule.warmup_epochs as f64,
            epochs: config.schedule.epochs as f64,
            granularity: config.schedule.granularity,
        }
    }

    /// The rate at `step` of an epoch of `steps_per_epoch` steps, in epoch `epoch` (from 0).
    pub fn lr(&self, epoch: u64, step: u64, steps_per_epoch: u64) -> f64 {
        let t = match self.granularity {
            ScheduleGranularity::PerEpoch => epoch as f64,
            ScheduleGranularity::PerStep => epoch as f64 + step as f64 / steps_per_epoch.max(1) as f64,
        };
        if t < self.warmup_epochs {
            self.warmup_start + (self.peak - self.warmup_start) * t / self.warmup_epochs
        } else {
            self.peak * 0.5 * (1.0 + (std::f64::consts::PI * t / self.epochs).cos())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn published() -> LrSchedule {
        LrSchedule {
            peak: 0.24,
            warmup_start: 0.03,
            warmup_epochs: 5.0,
            epochs: 200.0,
            granularity: ScheduleGranularity::PerEpoch,
        }
    }

    #[test]
    fn warmup_rises_linearly_then_cosine_decays() {
        let s = published();
        assert!((s.lr(0, 0, 100) - 0.03).abs() < 1e-12);
        assert!((s.lr(1, 50, 100) - (0.03 + 0.21 / 5.0)).abs() < 1e-12, "per epoch: the step does not matter");
        assert!((s.lr(5, 0, 100) - 0.24 * 0.5 * (1.0 + (std::f64::consts::PI * 5.0 / 200.0).cos())).abs() < 1e-12);
        assert!((s.lr(100, 0, 100) - 0.12).abs() < 1e-12);
        assert!(s.lr(199, 0, 100) < 1e-4);
    }

    #[test]
    fn per_step_interpolates_within_an_epoch() {
        let s = LrSchedule { granularity: ScheduleGranularity::PerStep, ..published() };
        assert!((s.lr(1, 50, 100) - (0.03 + 0.21 * 1.5 / 5.0)).abs() < 1e-12);
        assert!(s.lr(120, 10, 100) < s.lr(120, 9, 100), "decays every step");
    }
}

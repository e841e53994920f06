//! The visual semantics bank V (D×C) and its language-guided knowledge aggregation (LGKA) update.
//!
//! After each step every teacher key goes to the class its text embedding is closest to; each class
//! that received keys moves towards their mean: V[:,c] ← m·V[:,c] + (1−m)·z_c once seen, V[:,c] ← z_c
//! the first time. The original loops over all C classes in Python (one host sync per class); here it
//! is two index_adds and two selects over the whole bank, with the same numbers.

use tch::{Device, Kind, Tensor};

use super::loss::normalize_rows;
use super::{BankError, TextBank};

/// V `[D, C]` float32, the per-class `seen` flags `[C]` bool, and the momentum m.
#[derive(Debug)]
pub struct VisualBank {
    columns: Tensor,
    seen: Tensor,
    momentum: f64,
}

impl VisualBank {
    /// A fresh bank: standard-normal columns normalised to unit length, no class seen yet.
    /// Draws from libtorch's global generator, so a seeded run gets the same bank.
    pub fn random(dim: i64, classes: i64, momentum: f64, device: Device) -> Self {
        let columns = normalize_rows(&Tensor::randn([classes, dim], (Kind::Float, device))).tr().contiguous();
        let seen = Tensor::zeros([classes], (Kind::Bool, device));
        Self { columns, seen, momentum }
    }

    /// A bank from saved state (a checkpoint): `columns` `[D, C]` float, `seen` `[C]` bool.
    pub fn from_parts(columns: Tensor, seen: Tensor, momentum: f64) -> Result<Self, BankError> {
        let shape_error = |what: &str, expected: String, t: &Tensor| BankError::Shape {
            what: what.into(),
            expected,
            shape: t.size(),
            kind: format!("{:?}", t.kind()),
        };
        if columns.dim() != 2 || !columns.is_floating_point() {
            return Err(shape_error("visual bank", "a 2-D [width, classes] float tensor".into(), &columns));
        }
        let classes = columns.size()[1];
        if seen.size() != [classes] || seen.kind() != Kind::Bool {
            return Err(shape_error("visual bank seen flags", format!("[{classes}] bool"), &seen));
        }
        let seen = seen.to_device(columns.device());
        Ok(Self { columns: columns.to_kind(Kind::Float), seen, momentum })
    }

    /// V, `[D, C]` float32.
    pub fn tensor(&self) -> &Tensor {
        &self.columns
    }

    /// Which classes have received at least one key, `[C]` bool.
    pub fn seen(&self) -> &Tensor {
        &self.seen
    }

    /// SHA-256 (hex) of V's float32 values and the seen flags: replicas of a data-parallel run
    /// show by it that they hold the same bank bit for bit.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let columns = Vec::<f32>::try_from(&self.columns.to_device(tch::Device::Cpu).contiguous().view([-1]))
            .expect("a float bank");
        let seen = Vec::<bool>::try_from(&self.seen.to_device(tch::Device::Cpu)).expect("bool flags");
        let mut hasher = Sha256::new();
        for value in columns {
            hasher.update(value.to_le_bytes());
        }
        hasher.update(seen.iter().map(|s| u8::from(*s)).collect::<Vec<u8>>());
        hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The momentum m.
    pub fn momentum(&self) -> f64 {
        self.momentum
    }

    /// Changes the momentum from the next update on (a reloadable setting).
    pub fn set_momentum(&mut self, momentum: f64) {
        self.momentum = momentum;
    }

    /// Applies one LGKA update with the step's normalised teacher keys `[N, D]` — all ranks' keys,
    /// gathered by the caller, so that every rank computes the identical bank.
    pub fn update(&mut self, keys: &Tensor, text: &TextBank) -> Result<(), BankError> {
        self.update_where(keys, text, None)
    }

    /// [`VisualBank::update`] where the device decides: with `applied` (a bool scalar on the
    /// bank's device) false, columns and flags stay as they were, whatever the keys hold (a step
    /// whose loss was NaN may have NaN keys), and the host never waits for the verdict.
    pub fn update_if(&mut self, keys: &Tensor, text: &TextBank, applied: &Tensor) -> Result<(), BankError> {
        self.update_where(keys, text, Some(applied))
    }

    fn update_where(&mut self, keys: &Tensor, text: &TextBank, applied: Option<&Tensor>) -> Result<(), BankError> {
        let _no_grad = tch::no_grad_guard();
        let (dim, classes) = (self.columns.size()[0], self.columns.size()[1]);
        if keys.dim() != 2 || keys.size()[1] != dim || text.classes() != classes || text.dim() != dim {
            return Err(BankError::Shape {
                what: "LGKA keys".into(),
                expected: format!("[N, {dim}] keys and a [{dim}, {classes}] text bank"),
                shape: keys.size(),
                kind: format!("{:?}", keys.kind()),
            });
        }
        let keys = keys.to_kind(Kind::Float);
        let labels = text.assign(&keys); // [N]
                                         // Counts by index_add, not bincount: CUDA's bincount reads the labels' min and max back to
                                         // the host, a synchronisation inside every step. Float counts are exact up to 2^24 keys.
        let options = (Kind::Float, keys.device());
        let counts = Tensor::zeros([classes], options).index_add(0, &labels, &Tensor::ones([keys.size()[0]], options)); // [C]
        let sums = Tensor::zeros([classes, dim], options).index_add(0, &labels, &keys);
        let present = match applied {
            Some(applied) => counts.gt(0).logical_and(applied), // [C]
            None => counts.gt(0),
        };
        let means = (sums / counts.clamp_min(1.0).unsqueeze(1)).tr(); // [D, C]
        let blended = &self.columns * self.momentum + &means * (1.0 - self.momentum);
        let moved = blended.where_self(&self.seen, &means);
        // `means` is a transposed view and `where` keeps that layout; a contiguous bank keeps the
        // next step's matmuls on the same BLAS path as a freshly made [D, C] tensor.
        self.columns = moved.where_self(&present, &self.columns).contiguous();
        self.seen = self.seen.logical_or(&present);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_bank_has_unit_columns_and_nothing_seen() {
        let bank = VisualBank::random(16, 5, 0.999, Device::Cpu);
        assert_eq!(bank.tensor().size(), vec![16, 5]);
        let norms = bank.tensor().norm_scalaropt_dim(2, [0], false);
        assert!(norms.allclose(&Tensor::ones([5], (Kind::Float, Device::Cpu)), 1e-6, 1e-6, false));
        assert_eq!(bank.seen().sum(Kind::Int64).int64_value(&[]), 0);
    }

    #[test]
    fn first_visit_replaces_later_visits_blend() {
        // Two classes along the axes; keys pointing at class 0 only.
        let text = TextBank::new(Tensor::eye(2, (Kind::Float, Device::Cpu))).unwrap();
        let mut bank = VisualBank::from_parts(
            Tensor::from_slice(&[0.0f32, 0.6, 1.0, 0.8]).reshape([2, 2]),
            Tensor::from_slice(&[false, false]),
            0.5,
        )
        .unwrap();
        let keys = Tensor::from_slice(&[1.0f32, 0.0, 0.8, 0.6]).reshape([2, 2]);
        bank.update(&keys, &text).unwrap();
        // Class 0 mean = (0.9, 0.3), replaces the column; class 1 untouched and unseen.
        let expected = Tensor::from_slice(&[0.9f32, 0.6, 0.3, 0.8]).reshape([2, 2]);
        assert!(bank.tensor().allclose(&expected, 1e-6, 1e-6, false), "{}", bank.tensor());
        assert!(bank.seen().equal(&Tensor::from_slice(&[true, false])));
        bank.update(&keys.narrow(0, 0, 1), &text).unwrap();
        // Seen: 0.5 · (0.9, 0.3) + 0.5 · (1, 0).
        let expected = Tensor::from_slice(&[0.95f32, 0.6, 0.15, 0.8]).reshape([2, 2]);
        assert!(bank.tensor().allclose(&expected, 1e-6, 1e-6, false), "{}", bank.tensor());
    }

    #[test]
    fn mismatched_keys_are_refused() {
        let text = TextBank::new(Tensor::eye(4, (Kind::Float, Device::Cpu))).unwrap();
        let mut bank = VisualBank::random(4, 4, 0.9, Device::Cpu);
        let err = bank.update(&Tensor::zeros([3, 5], (Kind::Float, Device::Cpu)), &text).unwrap_err();
        assert!(err.to_string().contains("[N, 4] keys"), "{err}");
    }
}

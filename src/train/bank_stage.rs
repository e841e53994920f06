//! The banks as bank maintenance keeps them (the actor is `lgd_actors::bank_maintenance`): V
//! and its seen flags, T, and the objective's settings. A step asks for its targets before the
//! student's forward and takes them after it, and hands over the LGKA update without waiting, so
//! both run while the student does.

use lgd_actors::bank_maintenance::{BankMaintenanceRef, Banks};
use tch::Tensor;

use crate::objective::{BankError, LgdLoss, LgdTargets, TextBank, VisualBank};

/// Bank maintenance on tensors, as the trainer uses it.
pub type BankStage = BankMaintenanceRef<TensorBanks>;

/// V, T and the settings the targets depend on.
pub struct TensorBanks {
    visual: VisualBank,
    text: TextBank,
    loss: LgdLoss,
}

/// The reloadable settings: the temperatures (only τt matters here) and V's momentum.
pub type BankSettings = (LgdLoss, f64);

impl TensorBanks {
    /// V and a shared copy of `text` (read only), with `loss`'s temperatures.
    pub fn new(visual: VisualBank, text: &TextBank, loss: LgdLoss) -> Result<Self, BankError> {
        Ok(Self { visual, text: TextBank::new(text.tensor().shallow_clone())?, loss })
    }
}

impl Banks for TensorBanks {
    type Keys = Tensor;
    /// A bool scalar on the device: a step whose loss was not finite moves nothing.
    type Applied = Tensor;
    type Targets = LgdTargets;
    type Bank = VisualBank;
    type Settings = BankSettings;
    type Error = BankError;

    fn targets(&mut self, keys: Tensor) -> LgdTargets {
        self.loss.targets(&keys, &self.text, self.visual.tensor())
    }

    fn update(&mut self, keys: Tensor, applied: Tensor) -> Result<(), BankError> {
        self.visual.update_if(&keys, &self.text, &applied)
    }

    fn snapshot(&self) -> Result<VisualBank, BankError> {
        let (columns, seen) = (self.visual.tensor().copy(), self.visual.seen().copy());
        VisualBank::from_parts(columns, seen, self.visual.momentum())
    }

    fn configure(&mut self, (loss, momentum): BankSettings) {
        self.loss = loss;
        self.visual.set_momentum(momentum);
    }

    fn replace(&mut self, bank: VisualBank) {
        self.visual = bank;
    }
}

#[cfg(test)]
mod tests {
    use tch::{Device, Kind};

    use super::*;
    use crate::objective::normalize_rows;

    fn banks() -> (TextBank, VisualBank) {
        tch::manual_seed(3);
        let text = TextBank::random(8, 5, Device::Cpu);
        let visual = VisualBank::random(8, 5, 0.5, Device::Cpu);
        (text, visual)
    }

    fn start_default(visual: VisualBank, text: &TextBank) -> BankStage {
        let banks = TensorBanks::new(visual, text, LgdLoss::default()).unwrap();
        crate::daemon::topology::bank_maintenance(banks).unwrap()
    }

    fn keys(seed: i64) -> Tensor {
        tch::manual_seed(seed);
        normalize_rows(&Tensor::randn([6, 8], (Kind::Float, Device::Cpu)))
    }

    #[test]
    fn targets_and_updates_match_the_banks_used_in_place() {
        let (text, mut visual) = banks();
        let (_, copy) = banks();
        let stage = start_default(copy, &text);
        for seed in 0..4 {
            let keys = keys(seed);
            let pending = stage.targets(keys.shallow_clone()).unwrap();
            let expected = LgdLoss::default().targets(&keys, &text, visual.tensor());
            let got = pending.wait().unwrap();
            assert!(
                got.visual.equal(&expected.visual)
                    && got.image.equal(&expected.image)
                    && got.text.equal(&expected.text)
            );
            visual.update(&keys, &text).unwrap();
            stage.update(keys.shallow_clone(), Tensor::from(true)).unwrap();
            // A step that was not applied (its keys may be NaN) moves nothing.
            stage.update(&keys * f64::NAN, Tensor::from(false)).unwrap();
        }
        let snapshot = stage.snapshot().unwrap();
        assert!(snapshot.tensor().equal(visual.tensor()) && snapshot.seen().equal(visual.seen()));
    }

    #[test]
    fn a_failed_update_is_the_next_answer_and_names_the_stage() {
        let (text, visual) = banks();
        let stage = start_default(visual, &text);
        let keys = Tensor::zeros([2, 3], (Kind::Float, Device::Cpu));
        stage.update(keys.shallow_clone(), Tensor::from(true)).unwrap();
        let error = stage.snapshot().unwrap_err().to_string();
        assert!(error.starts_with("bank maintenance: ") && error.contains("[N, 8] keys"), "{error}");
        // The bank is unusable from then on: every later question gets the same answer.
        let again = stage.targets(keys).unwrap().wait().unwrap_err().to_string();
        assert_eq!(again, error);
    }

    #[test]
    fn configure_moves_the_momentum_and_replace_swaps_the_bank() {
        let (text, visual) = banks();
        let stage = start_default(visual, &text);
        stage.configure((LgdLoss::default(), 0.25)).unwrap();
        assert_eq!(stage.snapshot().unwrap().momentum(), 0.25);
        let replacement = VisualBank::random(8, 5, 0.75, Device::Cpu);
        let expected = replacement.tensor().copy();
        stage.replace(replacement).unwrap();
        let snapshot = stage.snapshot().unwrap();
        assert!(snapshot.tensor().equal(&expected));
        assert_eq!(snapshot.momentum(), 0.75);
    }
}

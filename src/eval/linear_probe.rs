//! The linear probe's fast variant: backbone features computed once (centre crops), then a new
//! Linear(F, classes) trained on them with the original protocol's optimiser — N(0, 0.01) weights,
//! zero bias, SGD momentum 0.9, no weight decay, lr 30·batch/256, 5 warm-up epochs, ×0.1 at 60 %
//! and 80 % of training (epochs 60 and 80 of 100).

use std::collections::BTreeMap;

use tch::nn::{self, Init, Module, VarStore};
use tch::{Device, Kind, Tensor};

use super::metrics::top1_top5;
use crate::train::{Sgd, SgdConfig};

/// A saved probe state that does not fit this probe.
#[derive(Debug, thiserror::Error)]
pub enum ProbeStateError {
    /// A variable the saved state lacks.
    #[error("no `{0}` in the saved probe")]
    Missing(String),
    /// A variable of another shape (another backbone or dataset?).
    #[error("`{name}` has shape {saved:?}, the probe {probe:?} (another backbone or dataset?)")]
    Shape {
        /// The variable.
        name: String,
        /// Its saved shape.
        saved: Vec<i64>,
        /// This probe's.
        probe: Vec<i64>,
    },
    /// Its momentum buffers.
    #[error(transparent)]
    Momentum(#[from] crate::train::MomentumError),
}

/// Settings of the probe.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct ProbeConfig {
    /// Epochs (100).
    pub epochs: u64,
    /// Batch size (256).
    pub batch: i64,
    /// Warm-up epochs (5).
    pub warmup_epochs: u64,
    /// Shuffling seed.
    pub seed: i64,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        Self { epochs: 100, batch: 256, warmup_epochs: 5, seed: 0 }
    }
}

/// One epoch's evaluation.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct ProbeEpoch {
    /// Epoch (1-based).
    pub epoch: u64,
    /// Top-1 on the test features.
    pub top1: f64,
    /// Top-5 on the test features.
    pub top5: f64,
}

/// The lr at `step` of `steps` in `epoch` (0-based): linear warm-up per step, then ×0.1 at 60 %
/// and 80 % of the epochs.
fn learning_rate(config: &ProbeConfig, epoch: u64, step: u64, steps: u64) -> f64 {
    let base = 30.0 * config.batch as f64 / 256.0;
    let t = epoch as f64 + step as f64 / steps.max(1) as f64;
    let warm = config.warmup_epochs as f64;
    if t < warm {
        return base * (t + 1.0 / steps.max(1) as f64) / warm;
    }
    let decay = [0.6, 0.8].iter().filter(|m| epoch as f64 >= *m * config.epochs as f64).count();
    base * 0.1f64.powi(decay as i32)
}

/// The new linear layer and its optimiser: what the probe trains, and all it must save to resume.
pub struct LinearProbe {
    vars: VarStore,
    linear: nn::Linear,
    sgd: Sgd,
    config: ProbeConfig,
    steps_per_epoch: u64,
}

impl LinearProbe {
    /// A fresh Linear(`features`, `classes`) on `device`, N(0, 0.01) weights and zero bias.
    pub fn new(features: i64, classes: i64, config: ProbeConfig, steps_per_epoch: u64, device: Device) -> Self {
        tch::manual_seed(config.seed);
        let vars = VarStore::new(device);
        let linear_config = nn::LinearConfig {
            ws_init: Init::Randn { mean: 0.0, stdev: 0.01 },
            bs_init: Some(Init::Const(0.0)),
            bias: true,
        };
        let linear = nn::linear(vars.root() / "fc", features, classes, linear_config);
        let sgd = Sgd::new(&vars, SgdConfig { momentum: 0.9, dampening: 0.0, weight_decay: 0.0, nesterov: false });
        Self { vars, linear, sgd, config, steps_per_epoch }
    }

    /// One SGD step on a batch of frozen features.
    pub fn train_step(&mut self, features: &Tensor, labels: &Tensor, epoch: u64, step: u64) {
        let loss = self.linear.forward(features).cross_entropy_for_logits(labels);
        self.sgd.zero_grad().expect("dropping the probe's gradients");
        loss.backward();
        // Fails only if libtorch rejects the probe's own parameters with their own gradients.
        self.sgd
            .step(learning_rate(&self.config, epoch, step, self.steps_per_epoch))
            .expect("fused SGD over the probe's parameters");
    }

    /// Top-1/top-5 on `features` with `labels`.
    pub fn evaluate(&self, features: &Tensor, labels: &Tensor) -> (f64, f64) {
        top1_top5(&tch::no_grad(|| self.linear.forward(features)), labels)
    }

    /// Weights, bias and momentum buffers by name.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut named: Vec<(String, Tensor)> = self.vars.variables().into_iter().collect();
        named.extend(self.sgd.state().iter().map(|(k, t)| (format!("momentum.{k}"), t.shallow_clone())));
        named
    }

    /// Restores what [`LinearProbe::state`] returned.
    pub fn load_state(&mut self, state: &BTreeMap<String, Tensor>) -> Result<(), ProbeStateError> {
        let mut momentum = BTreeMap::new();
        for (name, tensor) in state {
            if let Some(param) = name.strip_prefix("momentum.") {
                momentum.insert(param.to_owned(), tensor.shallow_clone());
            }
        }
        for (name, mut variable) in self.vars.variables() {
            let saved = state.get(&name).ok_or_else(|| ProbeStateError::Missing(name.clone()))?;
            if saved.size() != variable.size() {
                return Err(ProbeStateError::Shape { name, saved: saved.size(), probe: variable.size() });
            }
            tch::no_grad(|| variable.copy_(saved));
        }
        Ok(self.sgd.load_state(momentum)?)
    }
}

/// Trains the probe on (`train`, `train_labels`) and evaluates on (`test`, `test_labels`) after
/// every epoch; `on_epoch` sees each result (progress, metrics files).
pub fn linear_probe(
    train: &Tensor,
    train_labels: &Tensor,
    test: &Tensor,
    test_labels: &Tensor,
    classes: i64,
    config: ProbeConfig,
    mut on_epoch: impl FnMut(&ProbeEpoch),
) -> Vec<ProbeEpoch> {
    let device = train.device();
    let n = train.size()[0];
    let steps = ((n + config.batch - 1) / config.batch) as u64;
    let mut probe = LinearProbe::new(train.size()[1], classes, config, steps, device);
    let mut history = Vec::new();
    for epoch in 0..config.epochs {
        tch::manual_seed(config.seed + epoch as i64);
        let order = Tensor::randperm(n, (Kind::Int64, device));
        for step in 0..steps {
            let start = step as i64 * config.batch;
            let index = order.narrow(0, start, config.batch.min(n - start));
            probe.train_step(&train.index_select(0, &index), &train_labels.index_select(0, &index), epoch, step);
        }
        let (top1, top5) = probe.evaluate(test, test_labels);
        let result = ProbeEpoch { epoch: epoch + 1, top1, top5 };
        on_epoch(&result);
        history.push(result);
    }
    history
}

#[cfg(test)]
mod tests {
    use tch::Device;

    use super::*;

    /// Gaussian clusters around random class centres: separable when `signal` is large.
    fn clusters(n: i64, classes: i64, signal: f64, seed: i64) -> (Tensor, Tensor) {
        tch::manual_seed(seed);
        let centres = Tensor::randn([classes, 32], (Kind::Float, Device::Cpu)) * signal;
        let labels = Tensor::randint(classes, [n], (Kind::Int64, Device::Cpu));
        let features = centres.index_select(0, &labels) + Tensor::randn([n, 32], (Kind::Float, Device::Cpu));
        (features.relu(), labels)
    }

    #[test]
    fn separable_features_are_learnt_and_noise_is_not() {
        let config = ProbeConfig { epochs: 20, batch: 64, warmup_epochs: 2, seed: 0 };
        let (all, all_labels) = clusters(900, 5, 3.0, 1);
        let (train, train_labels) = (all.narrow(0, 0, 600), all_labels.narrow(0, 0, 600));
        let (test, test_labels) = (all.narrow(0, 600, 300), all_labels.narrow(0, 600, 300));
        let history = linear_probe(&train, &train_labels, &test, &test_labels, 5, config, |_| {});
        let last = history.last().unwrap();
        assert!(last.top1 >= 0.95, "separable clusters: top-1 {}", last.top1);

        let shuffled = Tensor::randint(5, [300], (Kind::Int64, Device::Cpu));
        let history = linear_probe(&train, &train_labels, &test, &shuffled, 5, config, |_| {});
        assert!(history.last().unwrap().top1 < 0.4, "labels unrelated to features stay near chance");
    }
}

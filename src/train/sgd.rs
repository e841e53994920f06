//! SGD with momentum and weight decay, torch.optim.SGD's update, with state we own: tch's optimiser
//! wrapper cannot save its momentum buffers, and exact resume needs them.
//!
//! Per parameter p with gradient g: d = g + wd·p; buf = d on the first step, else
//! buf = momentum·buf + (1 − dampening)·d; d = g' + momentum·buf (Nesterov) or buf; p ← p − lr·d.

use std::collections::BTreeMap;

use tch::nn::VarStore;
use tch::Tensor;

/// Hyper-parameters (the learning rate comes per step, from the schedule).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    /// Momentum (0.9).
    pub momentum: f64,
    /// Dampening (0 in the recipe).
    pub dampening: f64,
    /// L2 weight decay added to the gradient (1e-4).
    pub weight_decay: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
}

/// The optimiser: trainable variables by name and their momentum buffers.
#[derive(Debug)]
pub struct Sgd {
    config: SgdConfig,
    params: BTreeMap<String, Tensor>,
    momentum: BTreeMap<String, Tensor>,
}

impl Sgd {
    /// Optimises every trainable variable of `vars`.
    pub fn new(vars: &VarStore, config: SgdConfig) -> Self {
        let trainable: Vec<Tensor> = vars.trainable_variables();
        let params = vars
            .variables()
            .into_iter()
            .filter(|(_, t)| trainable.iter().any(|p| p.data_ptr() == t.data_ptr()))
            .collect();
        Self { config, params, momentum: BTreeMap::new() }
    }

    /// One update with learning rate `lr`; parameters without a gradient are left alone.
    pub fn step(&mut self, lr: f64) {
        let SgdConfig { momentum, dampening, weight_decay, nesterov } = self.config;
        tch::no_grad(|| {
            for (name, param) in &self.params {
                let grad = param.grad();
                if !grad.defined() {
                    continue;
                }
                let mut d = if weight_decay != 0.0 { &grad + param * weight_decay } else { grad.shallow_clone() };
                if momentum != 0.0 {
                    let buffer = match self.momentum.get_mut(name) {
                        Some(buffer) => {
                            let _ = buffer.g_mul_scalar_(momentum);
                            let _ = buffer.g_add_(&(&d * (1.0 - dampening)));
                            buffer.shallow_clone()
                        }
                        None => {
                            let buffer = d.copy();
                            self.momentum.insert(name.clone(), buffer.shallow_clone());
                            buffer
                        }
                    };
                    d = if nesterov { &d + &buffer * momentum } else { buffer };
                }
                let mut param = param.shallow_clone();
                let _ = param.g_sub_(&(&d * lr));
            }
        });
    }

    /// Clears every gradient (before the next backward).
    pub fn zero_grad(&mut self) {
        for param in self.params.values() {
            let mut grad = param.grad();
            if grad.defined() {
                let _ = grad.zero_();
            }
        }
    }

    /// The parameters' gradients, by name (for the gradient scaler's checks).
    pub fn gradients(&self) -> Vec<Tensor> {
        self.params.values().map(|p| p.grad()).filter(|g| g.defined()).collect()
    }

    /// Momentum buffers by parameter name, for checkpoints.
    pub fn state(&self) -> &BTreeMap<String, Tensor> {
        &self.momentum
    }

    /// Restores momentum buffers saved by [`Sgd::state`] (copied onto the parameters' devices).
    pub fn load_state(&mut self, state: BTreeMap<String, Tensor>) -> Result<(), String> {
        for (name, buffer) in &state {
            let param = self.params.get(name).ok_or_else(|| format!("momentum buffer for unknown parameter `{name}`"))?;
            if buffer.size() != param.size() {
                return Err(format!("momentum buffer `{name}` has shape {:?}, parameter {:?}", buffer.size(), param.size()));
            }
        }
        self.momentum = state
            .into_iter()
            .map(|(name, buffer)| {
                let device = self.params[&name].device();
                (name, buffer.to_device(device))
            })
            .collect();
        Ok(())
    }
}

//! SGD with momentum and weight decay, torch.optim.SGD's update, with state we own: tch's optimiser
//! wrapper cannot save its momentum buffers, and exact resume needs them.
//!
//! One fused kernel updates every parameter (torch's `fused=True`), and a step flagged on the
//! device as not to be applied changes nothing.
//!
//! Per parameter p with gradient g: d = g + wd·p; buf = d on the first step, else buf = momentum·buf + (1 − dampening)·d; d = g' + momentum·buf (Nesterov) or buf; p ← p − lr·d.

use std::collections::BTreeMap;

use tch::nn::VarStore;
use tch::Tensor;

use crate::torch_ext::{clear_gradients, fused_sgd, SgdUpdate, TorchExtError};

/// Saved momentum buffers that do not fit this optimiser's parameters.
#[derive(Debug, thiserror::Error)]
pub enum MomentumError {
    /// A buffer for a parameter this model does not have.
    #[error("momentum buffer for unknown parameter `{0}`")]
    UnknownParameter(String),
    /// A buffer of another shape than its parameter.
    #[error("momentum buffer `{name}` has shape {saved:?}, parameter {param:?}")]
    Shape {
        /// The parameter.
        name: String,
        /// The saved buffer's shape.
        saved: Vec<i64>,
        /// The parameter's shape.
        param: Vec<i64>,
    },
}
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
    /// One buffer per parameter (none when momentum is 0), zero until the first applied step.
    momentum: BTreeMap<String, Tensor>,
    /// Whether a step was taken: with dampening, torch's first step sets buffers instead of
    /// blending into them. Without dampening a zero buffer blended is the same thing exactly.
    stepped: bool,
}

impl Sgd {
    /// Optimises every trainable variable of `vars`.
    pub fn new(vars: &VarStore, config: SgdConfig) -> Self {
        let trainable: Vec<Tensor> = vars.trainable_variables();
        let params: BTreeMap<String, Tensor> = vars
            .variables()
            .into_iter()
            .filter(|(_, t)| trainable.iter().any(|p| p.data_ptr() == t.data_ptr()))
            .collect();
        let momentum = Self::zero_buffers(&params, config);
        Self { config, params, momentum, stepped: false }
    }

    /// Zero buffers shaped and laid out as the parameters (the fused kernel wants equal strides).
    fn zero_buffers(params: &BTreeMap<String, Tensor>, config: SgdConfig) -> BTreeMap<String, Tensor> {
        if config.momentum == 0.0 {
            return BTreeMap::new();
        }
        tch::no_grad(|| params.iter().map(|(name, param)| (name.clone(), param.zeros_like())).collect())
    }

    /// One update with learning rate `lr` over every parameter that has a gradient.
    pub fn step(&mut self, lr: f64) -> Result<(), TorchExtError> {
        let Some(device) = self.params.values().next().map(Tensor::device) else {
            return Ok(());
        };
        self.step_unless(lr, &Tensor::zeros([1], (tch::Kind::Float, device)))
    }

    /// [`Sgd::step`] in one fused kernel that changes nothing where `found_inf` (one float
    /// element on the parameters' device) is non-zero: the device decides, the host never waits.
    pub fn step_unless(&mut self, lr: f64, found_inf: &Tensor) -> Result<(), TorchExtError> {
        let SgdConfig { momentum, dampening, weight_decay, nesterov } = self.config;
        let (mut params, mut grads, mut buffers) = (Vec::new(), Vec::new(), Vec::new());
        for (name, param) in &self.params {
            let grad = param.grad();
            if !grad.defined() {
                continue;
            }
            // The fused kernel pairs elements in memory order: every tensor of a parameter must
            // share its strides (a module turned channels_last after its buffers were made, or
            // a gradient in another layout, would otherwise be updated element by wrong element).
            grads.push(laid_out_as(param, grad));
            if let Some(buffer) = self.momentum.get_mut(name) {
                *buffer = laid_out_as(param, buffer.shallow_clone());
                buffers.push(buffer.shallow_clone());
            }
            params.push(param.shallow_clone());
        }
        if params.is_empty() {
            return Ok(());
        }
        let first_step = dampening != 0.0 && !self.stepped;
        fused_sgd(
            &params,
            &grads,
            &buffers,
            SgdUpdate { lr, momentum, dampening, weight_decay, nesterov, first_step },
            found_inf,
        )?;
        self.stepped = true;
        Ok(())
    }

    /// Drops every gradient before the next backward (torch's default `set_to_none`): no kernel
    /// per parameter to zero them, none to add the next ones to zeros.
    pub fn zero_grad(&mut self) -> Result<(), TorchExtError> {
        clear_gradients(&self.params.values().map(Tensor::shallow_clone).collect::<Vec<_>>())
    }

    /// The parameters' gradients, by name (for the gradient scaler's checks).
    pub fn gradients(&self) -> Vec<Tensor> {
        self.params.values().map(|p| p.grad()).filter(|g| g.defined()).collect()
    }

    /// Momentum buffers by parameter name, for checkpoints.
    pub fn state(&self) -> &BTreeMap<String, Tensor> {
        &self.momentum
    }

    /// Restores momentum buffers saved by [`Sgd::state`], copied into buffers laid out as the
    /// parameters; a parameter with none saved (a checkpoint from before the first step) starts
    /// from zero.
    pub fn load_state(&mut self, state: BTreeMap<String, Tensor>) -> Result<(), MomentumError> {
        for (name, buffer) in &state {
            let param = self.params.get(name).ok_or_else(|| MomentumError::UnknownParameter(name.clone()))?;
            if buffer.size() != param.size() {
                return Err(MomentumError::Shape { name: name.clone(), saved: buffer.size(), param: param.size() });
            }
        }
        let mut buffers = Self::zero_buffers(&self.params, self.config);
        tch::no_grad(|| {
            for (name, saved) in &state {
                if let Some(buffer) = buffers.get_mut(name) {
                    buffer.copy_(saved);
                }
            }
        });
        self.momentum = buffers;
        // Saved buffers that are all zero come from before the first step.
        self.stepped = state.values().any(|b| b.abs().sum(tch::Kind::Double).double_value(&[]) != 0.0);
        Ok(())
    }
}

/// `tensor` itself when it has `param`'s strides, else a copy that has them.
fn laid_out_as(param: &Tensor, tensor: Tensor) -> Tensor {
    if tensor.stride() == param.stride() {
        return tensor;
    }
    tch::no_grad(|| {
        let mut copy = param.empty_like();
        copy.copy_(&tensor);
        copy
    })
}

#[cfg(test)]
mod tests {
    use tch::nn::Init;
    use tch::{Device, Kind};

    use super::*;
    use crate::torch_ext::module_to_channels_last;

    /// Two steps on a 4-D parameter with a fixed gradient; `channels_last` converts the module
    /// after the optimiser (and its buffers) were made, as the trainer does.
    fn two_steps(channels_last: bool) -> (Tensor, Tensor) {
        let vars = VarStore::new(Device::Cpu);
        let weight = vars.root().var("weight", &[2, 3, 2, 2], Init::Const(0.0));
        tch::no_grad(|| {
            weight.shallow_clone().copy_(&Tensor::arange(24, (Kind::Float, Device::Cpu)).view([2, 3, 2, 2]))
        });
        let mut sgd = Sgd::new(&vars, SgdConfig { momentum: 0.9, dampening: 0.0, weight_decay: 1e-2, nesterov: false });
        if channels_last {
            module_to_channels_last(&vars).unwrap();
        }
        let gradient = Tensor::arange(24, (Kind::Float, Device::Cpu)).view([2, 3, 2, 2]).cos();
        for _ in 0..2 {
            sgd.zero_grad().unwrap();
            (&weight * &gradient).sum(Kind::Float).backward();
            sgd.step(0.1).unwrap();
        }
        let weight = vars.variables()["weight"].contiguous();
        (weight, sgd.state()["weight"].contiguous())
    }

    #[test]
    fn a_module_turned_channels_last_after_the_optimiser_is_updated_as_before() {
        let (plain, plain_buffer) = two_steps(false);
        let (channels_last, channels_last_buffer) = two_steps(true);
        assert!(channels_last.equal(&plain), "{channels_last} {plain}");
        assert!(channels_last_buffer.equal(&plain_buffer));
    }
}

//! Building blocks shared by the torchvision-style networks, with torchvision's parameter names
//! and initialisation: conv (no bias) + BatchNorm + activation units, squeeze-and-excitation, and
//! a BatchNorm that also keeps `num_batches_tracked`, so state dicts map one to one.

use tch::nn::{self, Init, ModuleT};
use tch::{Kind, Tensor};

/// The activations torchvision's small networks use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// No activation (a block's linear projection).
    Identity,
    /// ReLU.
    Relu,
    /// min(max(x, 0), 6) (MobileNetV2).
    Relu6,
    /// x · sigmoid(x) (EfficientNet).
    Silu,
    /// x · relu6(x + 3) / 6 (MobileNetV3).
    Hardswish,
}

impl Activation {
    /// Applies the activation.
    pub fn apply(self, x: &Tensor) -> Tensor {
        match self {
            Self::Identity => x.shallow_clone(),
            Self::Relu => x.relu(),
            Self::Relu6 => x.clamp(0.0, 6.0),
            Self::Silu => x.silu(),
            Self::Hardswish => x.hardswish(),
        }
    }
}

/// torchvision's conv initialisation: kaiming normal, fan_out mode, gain √2 (relu / leaky_relu(0)).
/// fan_out counts out_channels × kernel area, not divided by groups, as PyTorch computes it.
pub fn kaiming_normal_fan_out(out_channels: i64, kernel: i64) -> Init {
    Init::Randn { mean: 0.0, stdev: (2.0 / (out_channels * kernel * kernel) as f64).sqrt() }
}

/// A BatchNorm2d with PyTorch's state: weight, bias, running_mean, running_var, num_batches_tracked.
#[derive(Debug)]
pub struct BatchNorm2d {
    weight: Tensor,
    bias: Tensor,
    running_mean: Tensor,
    running_var: Tensor,
    num_batches_tracked: Tensor,
    momentum: f64,
    eps: f64,
}

impl BatchNorm2d {
    /// PyTorch's defaults are momentum 0.1, eps 1e-5; MobileNetV3 uses 0.01 and 1e-3.
    pub fn new(path: nn::Path, channels: i64, momentum: f64, eps: f64) -> Self {
        Self {
            weight: path.var("weight", &[channels], Init::Const(1.0)),
            bias: path.var("bias", &[channels], Init::Const(0.0)),
            running_mean: path.zeros_no_train("running_mean", &[channels]),
            running_var: path.ones_no_train("running_var", &[channels]),
            num_batches_tracked: path.add(
                "num_batches_tracked",
                Tensor::zeros([], (Kind::Int64, path.device())),
                false,
            ),
            momentum,
            eps,
        }
    }
}

impl ModuleT for BatchNorm2d {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        if train {
            tch::no_grad(|| {
                let mut count = self.num_batches_tracked.shallow_clone();
                let _ = count.g_add_scalar_(1);
            });
        }
        Tensor::batch_norm(
            x,
            Some(&self.weight),
            Some(&self.bias),
            Some(&self.running_mean),
            Some(&self.running_var),
            train,
            self.momentum,
            self.eps,
            true,
        )
    }
}

/// Where a conv unit's normalisation comes from (momentum, eps).
#[derive(Debug, Clone, Copy)]
pub struct NormConfig {
    /// Running-statistics momentum.
    pub momentum: f64,
    /// Variance epsilon.
    pub eps: f64,
}

impl NormConfig {
    /// nn.BatchNorm2d's defaults.
    pub const PYTORCH: Self = Self { momentum: 0.1, eps: 1e-5 };
}

/// torchvision's `Conv2dNormActivation`: `.0` conv (no bias, "same" padding), `.1` BN, activation.
#[derive(Debug)]
pub struct ConvNormAct {
    conv: nn::Conv2D,
    bn: BatchNorm2d,
    activation: Activation,
}

impl ConvNormAct {
    /// A k×k conv with padding (k−1)/2, then BN and the activation.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        path: nn::Path,
        inputs: i64,
        outputs: i64,
        kernel: i64,
        stride: i64,
        groups: i64,
        norm: NormConfig,
        activation: Activation,
    ) -> Self {
        let config = nn::ConvConfig {
            stride,
            padding: (kernel - 1) / 2,
            groups,
            bias: false,
            ws_init: kaiming_normal_fan_out(outputs, kernel),
            ..Default::default()
        };
        Self {
            conv: nn::conv2d(&path / 0, inputs, outputs, kernel, config),
            bn: BatchNorm2d::new(&path / 1, outputs, norm.momentum, norm.eps),
            activation,
        }
    }
}

impl ModuleT for ConvNormAct {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.activation.apply(&self.bn.forward_t(&x.apply(&self.conv), train))
    }
}

/// torchvision's `SqueezeExcitation`: global pool → `fc1` (1×1 conv) → activation → `fc2` → gate.
#[derive(Debug)]
pub struct SqueezeExcitation {
    fc1: nn::Conv2D,
    fc2: nn::Conv2D,
    activation: Activation,
    hard_gate: bool,
}

impl SqueezeExcitation {
    /// `hard_gate`: Hardsigmoid (MobileNetV3) instead of Sigmoid (EfficientNet).
    pub fn new(path: nn::Path, channels: i64, squeeze: i64, activation: Activation, hard_gate: bool) -> Self {
        let conv = |name: &str, inputs: i64, outputs: i64| {
            let config = nn::ConvConfig {
                ws_init: kaiming_normal_fan_out(outputs, 1),
                bs_init: Init::Const(0.0),
                ..Default::default()
            };
            nn::conv2d(&path / name, inputs, outputs, 1, config)
        };
        Self { fc1: conv("fc1", channels, squeeze), fc2: conv("fc2", squeeze, channels), activation, hard_gate }
    }
}

impl ModuleT for SqueezeExcitation {
    fn forward_t(&self, x: &Tensor, _train: bool) -> Tensor {
        let scale = x.adaptive_avg_pool2d([1, 1]).apply(&self.fc1); // [B, squeeze, 1, 1]
        let scale = self.activation.apply(&scale).apply(&self.fc2); // [B, C, 1, 1]
        let gate = if self.hard_gate { scale.hardsigmoid() } else { scale.sigmoid() };
        x * gate
    }
}

/// torchvision's channel rounding: to a multiple of `divisor`, never more than 10 % below `value`.
pub fn make_divisible(value: f64, divisor: i64) -> i64 {
    let rounded = (divisor).max(((value + divisor as f64 / 2.0) as i64) / divisor * divisor);
    if (rounded as f64) < 0.9 * value {
        rounded + divisor
    } else {
        rounded
    }
}

/// PyTorch's default `nn.Linear` initialisation: U(±1/√fan_in) for weight and bias.
pub fn linear_pytorch_default(path: nn::Path, inputs: i64, outputs: i64) -> nn::Linear {
    let bound = 1.0 / (inputs as f64).sqrt();
    let config = nn::LinearConfig {
        ws_init: Init::Uniform { lo: -bound, up: bound },
        bs_init: Some(Init::Uniform { lo: -bound, up: bound }),
        bias: true,
    };
    nn::linear(path, inputs, outputs, config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn make_divisible_matches_torchvision() {
        // Values from torchvision's _make_divisible.
        assert_eq!(make_divisible(32.0, 8), 32);
        assert_eq!(make_divisible(120.0 / 4.0, 8), 32);
        assert_eq!(make_divisible(72.0 / 4.0, 8), 24);
        assert_eq!(make_divisible(3.0, 8), 8);
        assert_eq!(make_divisible(27.0, 8), 32);
    }

    #[test]
    fn batch_norm_counts_training_batches() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let bn = BatchNorm2d::new(vs.root() / "bn", 3, 0.1, 1e-5);
        let x = Tensor::randn([4, 3, 2, 2], (Kind::Float, tch::Device::Cpu));
        let _ = bn.forward_t(&x, true);
        let _ = bn.forward_t(&x, true);
        let _ = bn.forward_t(&x, false);
        assert_eq!(vs.variables()["bn.num_batches_tracked"].int64_value(&[]), 2);
        assert_eq!(vs.variables()["bn.num_batches_tracked"].kind(), Kind::Int64);
    }
}

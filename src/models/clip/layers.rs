//! The frozen building blocks of CLIP's towers, each loaded from the checkpoint keys under its
//! prefix (`{prefix}.weight`, `{prefix}.bias`, …) and applied functionally: a teacher never trains,
//! so plain tensors are all it needs (no variable store, no gradients).

use tch::Tensor;

use super::weights::Weights;

/// PyTorch's default epsilon for LayerNorm and BatchNorm, which CLIP keeps.
const NORM_EPS: f64 = 1e-5;

/// `nn.Linear`: `y = x Wᵀ + b`.
#[derive(Debug)]
pub struct Linear {
    weight: Tensor, // [out, in]
    bias: Tensor,   // [out]
}

impl Linear {
    /// Loads `{prefix}.weight` `[out, in]` and `{prefix}.bias` `[out]`.
    pub fn load(w: &mut Weights, prefix: &str, input: i64, output: i64) -> Self {
        Self {
            weight: w.take(&format!("{prefix}.weight"), &[output, input]),
            bias: w.take(&format!("{prefix}.bias"), &[output]),
        }
    }

    /// `[.., in]` → `[.., out]`.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        x.linear(&self.weight, Some(&self.bias))
    }

    /// The weight `[out, in]` and bias `[out]`, for attention that fuses q, k and v.
    pub fn parts(&self) -> (&Tensor, &Tensor) {
        (&self.weight, &self.bias)
    }
}

/// `nn.LayerNorm` over the last dimension.
#[derive(Debug)]
pub struct LayerNorm {
    weight: Tensor, // [width]
    bias: Tensor,   // [width]
    width: i64,
}

impl LayerNorm {
    /// Loads `{prefix}.weight` and `{prefix}.bias`, both `[width]`.
    pub fn load(w: &mut Weights, prefix: &str, width: i64) -> Self {
        Self {
            weight: w.take(&format!("{prefix}.weight"), &[width]),
            bias: w.take(&format!("{prefix}.bias"), &[width]),
            width,
        }
    }

    /// Normalises `[.., width]`.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        x.layer_norm([self.width], Some(&self.weight), Some(&self.bias), NORM_EPS, true)
    }
}

/// `nn.Conv2d` without bias (every CLIP convolution), square kernel.
#[derive(Debug)]
pub struct Conv2d {
    weight: Tensor, // [out, in, k, k]
    stride: i64,
    padding: i64,
}

impl Conv2d {
    /// Loads `{prefix}.weight` `[output, input, kernel, kernel]`.
    pub fn load(
        w: &mut Weights,
        prefix: &str,
        input: i64,
        output: i64,
        kernel: i64,
        stride: i64,
        padding: i64,
    ) -> Self {
        Self { weight: w.take(&format!("{prefix}.weight"), &[output, input, kernel, kernel]), stride, padding }
    }

    /// `[batch, in, h, w]` → `[batch, out, h', w']`.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        x.conv2d(&self.weight, None::<&Tensor>, [self.stride], [self.padding], [1], 1)
    }
}

/// `nn.BatchNorm2d` in eval mode: the stored running statistics, never updated.
#[derive(Debug)]
pub struct BatchNorm2d {
    weight: Tensor,       // [channels]
    bias: Tensor,         // [channels]
    running_mean: Tensor, // [channels]
    running_var: Tensor,  // [channels]
}

impl BatchNorm2d {
    /// Loads `{prefix}.{weight,bias,running_mean,running_var}`, all `[channels]`.
    pub fn load(w: &mut Weights, prefix: &str, channels: i64) -> Self {
        let mut take = |name: &str| w.take(&format!("{prefix}.{name}"), &[channels]);
        Self {
            weight: take("weight"),
            bias: take("bias"),
            running_mean: take("running_mean"),
            running_var: take("running_var"),
        }
    }

    /// Normalises `[batch, channels, h, w]` with the running statistics.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        x.batch_norm(
            Some(&self.weight),
            Some(&self.bias),
            Some(&self.running_mean),
            Some(&self.running_var),
            false,
            0.0,
            NORM_EPS,
            true,
        )
    }
}

/// The transformers' MLP activation. OpenAI's weights were trained with QuickGELU
/// (`x · sigmoid(1.702 x)`); some open_clip checkpoints with exact GELU. It cannot be read from the
/// tensors, so the loader is told (QuickGELU by default, as open_clip assumes for OpenAI files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Activation {
    /// `x · sigmoid(1.702 x)`.
    #[default]
    QuickGelu,
    /// `x · Φ(x)` (erf form).
    Gelu,
}

impl Activation {
    /// Applies the activation element-wise.
    pub fn forward(self, x: &Tensor) -> Tensor {
        match self {
            Activation::QuickGelu => x * (x * 1.702).sigmoid(),
            Activation::Gelu => x.gelu("none"),
        }
    }
}

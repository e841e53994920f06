//! The LGD projection head that replaces a backbone's classifier: Linear(F, F) → ReLU → Linear(F, D).
//!
//! Names, the one place they are defined: `fc.0.*` and `fc.2.*` for ResNets (where torchvision has
//! `fc`), `classifier.0.*` and `classifier.2.*` for MobileNetV2/V3 and EfficientNet (where torchvision
//! has `classifier`); index 1 is the parameter-free ReLU, as in an `nn.Sequential`. The first layer
//! has PyTorch's default Linear initialisation; the second is initialised as the architecture's own
//! classifier (the original wraps that classifier, built with D outputs, behind Linear + ReLU).

use tch::nn::{self, Init, Module};
use tch::Tensor;

use crate::models::layers::linear_pytorch_default;

/// How the architecture initialises its classifier, which the head's last layer takes over.
#[derive(Debug, Clone, Copy)]
pub enum ClassifierInit {
    /// PyTorch's default Linear init (ResNet).
    PytorchDefault,
    /// N(0, 0.01) weights, zero bias (MobileNetV2/V3).
    Normal001,
    /// U(±1/√out_features) weights, zero bias (EfficientNet).
    UniformByOutputs,
}

/// The two linear layers of the head.
#[derive(Debug)]
pub struct LgdHead {
    hidden: nn::Linear,
    output: nn::Linear,
}

impl LgdHead {
    /// `path` is `fc` or `classifier`; `features` is F, `embed_dim` is D.
    pub fn new(path: nn::Path, features: i64, embed_dim: i64, init: ClassifierInit) -> Self {
        let hidden = linear_pytorch_default(&path / 0, features, features);
        let output = match init {
            ClassifierInit::PytorchDefault => linear_pytorch_default(&path / 2, features, embed_dim),
            ClassifierInit::Normal001 | ClassifierInit::UniformByOutputs => {
                let ws_init = match init {
                    ClassifierInit::Normal001 => Init::Randn { mean: 0.0, stdev: 0.01 },
                    _ => {
                        let range = 1.0 / (embed_dim as f64).sqrt();
                        Init::Uniform { lo: -range, up: range }
                    }
                };
                let config = nn::LinearConfig { ws_init, bs_init: Some(Init::Const(0.0)), bias: true };
                nn::linear(&path / 2, features, embed_dim, config)
            }
        };
        Self { hidden, output }
    }

    /// `[B, F]` → `[B, D]` (not normalised).
    pub fn forward(&self, features: &Tensor) -> Tensor {
        self.output.forward(&self.hidden.forward(features).relu())
    }
}

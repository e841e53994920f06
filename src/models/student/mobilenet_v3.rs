//! torchvision's MobileNetV3-Large (`features.0..16`), up to global average pooling. torchvision
//! puts a Linear(960, 1280) + Hardswish before its classifier; LGD's head replaces that whole
//! classifier, so F = 960.

use tch::nn::{self, ModuleT};
use tch::Tensor;

use crate::models::layers::{make_divisible, Activation, ConvNormAct, NormConfig, SqueezeExcitation};

/// MobileNetV3's BatchNorm: eps 1e-3, momentum 0.01.
const NORM: NormConfig = NormConfig { momentum: 0.01, eps: 0.001 };

/// A block: `block.0` expand (when the width changes), depthwise, optional SE, projection.
#[derive(Debug)]
struct InvertedResidual {
    expand: Option<ConvNormAct>,
    depthwise: ConvNormAct,
    squeeze: Option<SqueezeExcitation>,
    project: ConvNormAct,
    residual: bool,
}

/// (inputs, kernel, expanded, outputs, squeeze-excitation, hardswish, stride), the paper's Table 1.
const BLOCKS: [(i64, i64, i64, i64, bool, bool, i64); 15] = [
    (16, 3, 16, 16, false, false, 1),
    (16, 3, 64, 24, false, false, 2),
    (24, 3, 72, 24, false, false, 1),
    (24, 5, 72, 40, true, false, 2),
    (40, 5, 120, 40, true, false, 1),
    (40, 5, 120, 40, true, false, 1),
    (40, 3, 240, 80, false, true, 2),
    (80, 3, 200, 80, false, true, 1),
    (80, 3, 184, 80, false, true, 1),
    (80, 3, 184, 80, false, true, 1),
    (80, 3, 480, 112, true, true, 1),
    (112, 3, 672, 112, true, true, 1),
    (112, 5, 672, 160, true, true, 2),
    (160, 5, 960, 160, true, true, 1),
    (160, 5, 960, 160, true, true, 1),
];

/// F: the width of the last conv.
pub const FEATURES: i64 = 960;

impl InvertedResidual {
    fn new(path: nn::Path, spec: (i64, i64, i64, i64, bool, bool, i64)) -> Self {
        let (inputs, kernel, expanded, outputs, use_se, hardswish, stride) = spec;
        let activation = if hardswish { Activation::Hardswish } else { Activation::Relu };
        let block = &path / "block";
        let mut index = 0;
        let mut next = || {
            index += 1;
            index - 1
        };
        let expand = (expanded != inputs)
            .then(|| ConvNormAct::new(&block / next(), inputs, expanded, 1, 1, 1, NORM, activation));
        let depthwise =
            ConvNormAct::new(&block / next(), expanded, expanded, kernel, stride, expanded, NORM, activation);
        let squeeze = use_se.then(|| {
            let squeeze = make_divisible(expanded as f64 / 4.0, 8);
            SqueezeExcitation::new(&block / next(), expanded, squeeze, Activation::Relu, true)
        });
        let project = ConvNormAct::new(&block / next(), expanded, outputs, 1, 1, 1, NORM, Activation::Identity);
        Self { expand, depthwise, squeeze, project, residual: stride == 1 && inputs == outputs }
    }

    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let mut y = match &self.expand {
            Some(expand) => expand.forward_t(x, train),
            None => x.shallow_clone(),
        };
        y = self.depthwise.forward_t(&y, train);
        if let Some(squeeze) = &self.squeeze {
            y = squeeze.forward_t(&y, train);
        }
        y = self.project.forward_t(&y, train);
        if self.residual {
            y + x
        } else {
            y
        }
    }
}

/// The MobileNetV3-Large trunk (width 1.0).
#[derive(Debug)]
pub struct MobileNetV3Large {
    stem: ConvNormAct,
    blocks: Vec<InvertedResidual>,
    head: ConvNormAct,
}

impl MobileNetV3Large {
    /// Builds `features.0` … `features.16` under `root`.
    pub fn new(root: &nn::Path) -> Self {
        let path = root / "features";
        let blocks =
            BLOCKS.iter().enumerate().map(|(i, spec)| InvertedResidual::new(&path / (i as i64 + 1), *spec)).collect();
        Self {
            stem: ConvNormAct::new(&path / 0, 3, 16, 3, 2, 1, NORM, Activation::Hardswish),
            blocks,
            head: ConvNormAct::new(&path / 16, 160, FEATURES, 1, 1, 1, NORM, Activation::Hardswish),
        }
    }

    /// Pooled features `[B, 960]`.
    pub fn features(&self, x: &Tensor, train: bool) -> Tensor {
        let mut x = self.stem.forward_t(x, train);
        for block in &self.blocks {
            x = block.forward(&x, train);
        }
        self.head.forward_t(&x, train).adaptive_avg_pool2d([1, 1]).flatten(1, -1)
    }
}

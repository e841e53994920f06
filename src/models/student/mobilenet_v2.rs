//! torchvision's MobileNetV2 (`features.0..18`), up to global average pooling.

use tch::nn::{self, ModuleT};
use tch::Tensor;

use crate::models::layers::{kaiming_normal_fan_out, Activation, BatchNorm2d, ConvNormAct, NormConfig};

/// An inverted residual: `conv.0` expand (absent for ratio 1), depthwise, then the linear
/// projection as a bare conv + BN (`conv.k`, `conv.k+1`).
#[derive(Debug)]
struct InvertedResidual {
    units: Vec<ConvNormAct>,
    project: nn::Conv2D,
    project_bn: BatchNorm2d,
    residual: bool,
}

impl InvertedResidual {
    fn new(path: nn::Path, inputs: i64, outputs: i64, stride: i64, expand_ratio: i64) -> Self {
        let hidden = inputs * expand_ratio;
        let conv = &path / "conv";
        let norm = NormConfig::PYTORCH;
        let mut units = Vec::new();
        if expand_ratio != 1 {
            units.push(ConvNormAct::new(&conv / 0, inputs, hidden, 1, 1, 1, norm, Activation::Relu6));
        }
        let index = units.len() as i64;
        units.push(ConvNormAct::new(&conv / index, hidden, hidden, 3, stride, hidden, norm, Activation::Relu6));
        let config = nn::ConvConfig { bias: false, ws_init: kaiming_normal_fan_out(outputs, 1), ..Default::default() };
        Self {
            project: nn::conv2d(&conv / (index + 1), hidden, outputs, 1, config),
            project_bn: BatchNorm2d::new(&conv / (index + 2), outputs, norm.momentum, norm.eps),
            units,
            residual: stride == 1 && inputs == outputs,
        }
    }

    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let mut y = x.shallow_clone();
        for unit in &self.units {
            y = unit.forward_t(&y, train);
        }
        let y = self.project_bn.forward_t(&y.apply(&self.project), train);
        if self.residual {
            x + y
        } else {
            y
        }
    }
}

#[derive(Debug)]
enum Layer {
    Unit(ConvNormAct),
    Block(InvertedResidual),
}

/// The MobileNetV2 trunk (width 1.0).
#[derive(Debug)]
pub struct MobileNetV2 {
    features: Vec<Layer>,
}

/// (expansion t, channels c, repeats n, first stride s), as in the paper's Table 2.
const SETTINGS: [(i64, i64, usize, i64); 7] =
    [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)];

/// F, the width of the last conv and of the pooled features.
pub const FEATURES: i64 = 1280;

impl MobileNetV2 {
    /// Builds `features.0` … `features.18` under `root`.
    pub fn new(root: &nn::Path) -> Self {
        let path = root / "features";
        let norm = NormConfig::PYTORCH;
        let mut features = vec![Layer::Unit(ConvNormAct::new(&path / 0, 3, 32, 3, 2, 1, norm, Activation::Relu6))];
        let mut inputs = 32;
        for (t, c, n, s) in SETTINGS {
            for i in 0..n {
                let index = features.len() as i64;
                let stride = if i == 0 { s } else { 1 };
                features.push(Layer::Block(InvertedResidual::new(&path / index, inputs, c, stride, t)));
                inputs = c;
            }
        }
        let index = features.len() as i64;
        features.push(Layer::Unit(ConvNormAct::new(&path / index, inputs, FEATURES, 1, 1, 1, norm, Activation::Relu6)));
        Self { features }
    }

    /// Pooled features `[B, 1280]`.
    pub fn features(&self, x: &Tensor, train: bool) -> Tensor {
        let mut x = x.shallow_clone();
        for layer in &self.features {
            x = match layer {
                Layer::Unit(unit) => unit.forward_t(&x, train),
                Layer::Block(block) => block.forward(&x, train),
            };
        }
        x.adaptive_avg_pool2d([1, 1]).flatten(1, -1)
    }
}

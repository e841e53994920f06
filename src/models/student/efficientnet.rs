//! torchvision's EfficientNet-B0 (`features.0..8`, MBConv blocks with squeeze-and-excitation and
//! stochastic depth), up to global average pooling.

use tch::nn::{self, ModuleT};
use tch::Tensor;

use crate::models::layers::{Activation, ConvNormAct, NormConfig, SqueezeExcitation};

/// An MBConv block: `block.0` expand (absent for ratio 1), depthwise, SE, projection.
#[derive(Debug)]
struct MbConv {
    expand: Option<ConvNormAct>,
    depthwise: ConvNormAct,
    squeeze: SqueezeExcitation,
    project: ConvNormAct,
    residual: bool,
    /// Probability of dropping the residual branch per sample while training.
    drop_probability: f64,
}

impl MbConv {
    fn new(path: nn::Path, inputs: i64, outputs: i64, kernel: i64, stride: i64, expand_ratio: i64, drop: f64) -> Self {
        let norm = NormConfig::PYTORCH;
        let block = &path / "block";
        let hidden = inputs * expand_ratio;
        let expand =
            (hidden != inputs).then(|| ConvNormAct::new(&block / 0, inputs, hidden, 1, 1, 1, norm, Activation::Silu));
        let first = expand.is_some() as i64;
        let depthwise =
            ConvNormAct::new(&block / first, hidden, hidden, kernel, stride, hidden, norm, Activation::Silu);
        let squeeze =
            SqueezeExcitation::new(&block / (first + 1), hidden, (inputs / 4).max(1), Activation::Silu, false);
        let project = ConvNormAct::new(&block / (first + 2), hidden, outputs, 1, 1, 1, norm, Activation::Identity);
        Self { expand, depthwise, squeeze, project, residual: stride == 1 && inputs == outputs, drop_probability: drop }
    }

    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let mut y = match &self.expand {
            Some(expand) => expand.forward_t(x, train),
            None => x.shallow_clone(),
        };
        y = self.depthwise.forward_t(&y, train);
        y = self.squeeze.forward_t(&y, train);
        y = self.project.forward_t(&y, train);
        if !self.residual {
            return y;
        }
        if train && self.drop_probability > 0.0 {
            // Stochastic depth, "row" mode: keep each sample's branch with p = 1 − drop, rescaled.
            let survival = 1.0 - self.drop_probability;
            let keep = Tensor::empty([y.size()[0], 1, 1, 1], (y.kind(), y.device())).bernoulli_float_(survival);
            // Not `*=`: tch's compound assignment is in place, on a tensor autograd may still need.
            #[allow(clippy::assign_op_pattern)]
            {
                y = y * (keep / survival);
            }
        }
        y + x
    }
}

/// (expansion, kernel, stride, inputs, outputs, repeats) of the B0 stages.
const STAGES: [(i64, i64, i64, i64, i64, usize); 7] = [
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
];

/// F for B0.
pub const FEATURES: i64 = 1280;

/// The EfficientNet-B0 trunk.
#[derive(Debug)]
pub struct EfficientNetB0 {
    stem: ConvNormAct,
    stages: Vec<Vec<MbConv>>,
    head: ConvNormAct,
}

impl EfficientNetB0 {
    /// `stochastic_depth`: the largest drop probability, reached linearly by the last block
    /// (0.2 in torchvision).
    pub fn new(root: &nn::Path, stochastic_depth: f64) -> Self {
        let path = root / "features";
        let norm = NormConfig::PYTORCH;
        let total: usize = STAGES.iter().map(|s| s.5).sum();
        let mut block_id = 0;
        let mut stages = Vec::new();
        for (index, (expand, kernel, stride, inputs, outputs, repeats)) in STAGES.into_iter().enumerate() {
            let stage_path = &path / (index as i64 + 1);
            let mut blocks = Vec::new();
            for i in 0..repeats {
                let (inputs, stride) = if i == 0 { (inputs, stride) } else { (outputs, 1) };
                let drop = stochastic_depth * block_id as f64 / total as f64;
                blocks.push(MbConv::new(&stage_path / i as i64, inputs, outputs, kernel, stride, expand, drop));
                block_id += 1;
            }
            stages.push(blocks);
        }
        Self {
            stem: ConvNormAct::new(&path / 0, 3, 32, 3, 2, 1, norm, Activation::Silu),
            stages,
            head: ConvNormAct::new(&path / 8, 320, FEATURES, 1, 1, 1, norm, Activation::Silu),
        }
    }

    /// Pooled features `[B, 1280]`.
    pub fn features(&self, x: &Tensor, train: bool) -> Tensor {
        let mut x = self.stem.forward_t(x, train);
        for stage in &self.stages {
            for block in stage {
                x = block.forward(&x, train);
            }
        }
        self.head.forward_t(&x, train).adaptive_avg_pool2d([1, 1]).flatten(1, -1)
    }
}

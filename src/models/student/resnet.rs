//! torchvision's ResNet-18/34/50 backbones (`conv1`, `bn1`, `layer1..4`, `fc`), v1.5 (stride in the
//! 3×3 conv of a bottleneck), up to global average pooling; the classifier is the LGD head.

use tch::nn::{self, ModuleT};
use tch::Tensor;

use crate::models::layers::{kaiming_normal_fan_out, BatchNorm2d, NormConfig};

fn conv(path: nn::Path, inputs: i64, outputs: i64, kernel: i64, stride: i64) -> nn::Conv2D {
    let config = nn::ConvConfig {
        stride,
        padding: kernel / 2,
        bias: false,
        ws_init: kaiming_normal_fan_out(outputs, kernel),
        ..Default::default()
    };
    nn::conv2d(path, inputs, outputs, kernel, config)
}

fn bn(path: nn::Path, channels: i64) -> BatchNorm2d {
    BatchNorm2d::new(path, channels, NormConfig::PYTORCH.momentum, NormConfig::PYTORCH.eps)
}

/// `downsample.0` (1×1 strided conv) + `downsample.1` (BN) when the shape changes.
#[derive(Debug)]
struct Downsample {
    conv: nn::Conv2D,
    bn: BatchNorm2d,
}

impl Downsample {
    fn new(path: nn::Path, inputs: i64, outputs: i64, stride: i64) -> Option<Self> {
        (stride != 1 || inputs != outputs)
            .then(|| Self { conv: conv(&path / 0, inputs, outputs, 1, stride), bn: bn(&path / 1, outputs) })
    }

    fn forward(this: &Option<Self>, x: &Tensor, train: bool) -> Tensor {
        match this {
            Some(d) => d.bn.forward_t(&x.apply(&d.conv), train),
            None => x.shallow_clone(),
        }
    }
}

/// ResNet-18/34 block: two 3×3 convs.
#[derive(Debug)]
struct BasicBlock {
    conv1: nn::Conv2D,
    bn1: BatchNorm2d,
    conv2: nn::Conv2D,
    bn2: BatchNorm2d,
    downsample: Option<Downsample>,
}

/// ResNet-50 block: 1×1 reduce, 3×3 (strided), 1×1 expand ×4.
#[derive(Debug)]
struct Bottleneck {
    conv1: nn::Conv2D,
    bn1: BatchNorm2d,
    conv2: nn::Conv2D,
    bn2: BatchNorm2d,
    conv3: nn::Conv2D,
    bn3: BatchNorm2d,
    downsample: Option<Downsample>,
}

/// A residual block (boxed: each holds its layers by value, hundreds of bytes).
#[derive(Debug)]
enum Block {
    Basic(Box<BasicBlock>),
    Bottleneck(Box<Bottleneck>),
}

impl Block {
    fn new(path: nn::Path, bottleneck: bool, inputs: i64, planes: i64, stride: i64) -> Self {
        if bottleneck {
            let outputs = planes * 4;
            Self::Bottleneck(Box::new(Bottleneck {
                conv1: conv(&path / "conv1", inputs, planes, 1, 1),
                bn1: bn(&path / "bn1", planes),
                conv2: conv(&path / "conv2", planes, planes, 3, stride),
                bn2: bn(&path / "bn2", planes),
                conv3: conv(&path / "conv3", planes, outputs, 1, 1),
                bn3: bn(&path / "bn3", outputs),
                downsample: Downsample::new(&path / "downsample", inputs, outputs, stride),
            }))
        } else {
            Self::Basic(Box::new(BasicBlock {
                conv1: conv(&path / "conv1", inputs, planes, 3, stride),
                bn1: bn(&path / "bn1", planes),
                conv2: conv(&path / "conv2", planes, planes, 3, 1),
                bn2: bn(&path / "bn2", planes),
                downsample: Downsample::new(&path / "downsample", inputs, planes, stride),
            }))
        }
    }

    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        match self {
            Self::Basic(b) => {
                let y = b.bn1.forward_t(&x.apply(&b.conv1), train).relu();
                let y = b.bn2.forward_t(&y.apply(&b.conv2), train);
                (y + Downsample::forward(&b.downsample, x, train)).relu()
            }
            Self::Bottleneck(b) => {
                let y = b.bn1.forward_t(&x.apply(&b.conv1), train).relu();
                let y = b.bn2.forward_t(&y.apply(&b.conv2), train).relu();
                let y = b.bn3.forward_t(&y.apply(&b.conv3), train);
                (y + Downsample::forward(&b.downsample, x, train)).relu()
            }
        }
    }
}

/// The ResNet trunk.
#[derive(Debug)]
pub struct ResNet {
    conv1: nn::Conv2D,
    bn1: BatchNorm2d,
    layers: Vec<Vec<Block>>,
    features: i64,
}

impl ResNet {
    /// `depths`: blocks per stage ([2,2,2,2] for 18, [3,4,6,3] for 34 and 50).
    pub fn new(root: &nn::Path, depths: [usize; 4], bottleneck: bool) -> Self {
        let expansion = if bottleneck { 4 } else { 1 };
        let mut inputs = 64;
        let mut layers = Vec::new();
        for (stage, (&depth, planes)) in depths.iter().zip([64, 128, 256, 512]).enumerate() {
            let path = root / format!("layer{}", stage + 1);
            let mut blocks = Vec::new();
            for index in 0..depth {
                let stride = if index == 0 && stage > 0 { 2 } else { 1 };
                blocks.push(Block::new(&path / index, bottleneck, inputs, planes, stride));
                inputs = planes * expansion;
            }
            layers.push(blocks);
        }
        Self { conv1: conv(root / "conv1", 3, 64, 7, 2), bn1: bn(root / "bn1", 64), layers, features: inputs }
    }

    /// F: 512 for ResNet-18/34, 2048 for ResNet-50.
    pub fn feature_dim(&self) -> i64 {
        self.features
    }

    /// Pooled features `[B, F]` of images `[B, 3, H, W]`.
    pub fn features(&self, x: &Tensor, train: bool) -> Tensor {
        let mut x = self.bn1.forward_t(&x.apply(&self.conv1), train).relu();
        x = x.max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false);
        for stage in &self.layers {
            for block in stage {
                x = block.forward(&x, train);
            }
        }
        x.adaptive_avg_pool2d([1, 1]).flatten(1, -1)
    }
}

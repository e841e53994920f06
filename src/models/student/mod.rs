//! Student networks: torchvision backbones with parameter and buffer names identical to
//! torchvision's, so state dicts map one to one, and the LGD head in place of the classifier.

mod efficientnet;
mod head;
mod mobilenet_v2;
mod mobilenet_v3;
mod resnet;

use serde::{Deserialize, Serialize};
use tch::nn;
use tch::Tensor;

pub use head::{ClassifierInit, LgdHead};

/// Student backbones, named as in torchvision (snake_case in configs, kebab-case on the command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum StudentArch {
    /// torchvision `resnet18` (F = 512).
    Resnet18,
    /// torchvision `resnet34` (F = 512).
    Resnet34,
    /// torchvision `resnet50` (F = 2048).
    Resnet50,
    /// torchvision `mobilenet_v2` (F = 1280).
    MobilenetV2,
    /// torchvision `efficientnet_b0` (F = 1280).
    EfficientnetB0,
    /// torchvision `mobilenet_v3_large` (F = 960).
    MobilenetV3Large,
}

impl StudentArch {
    /// Every architecture, for tests and listings.
    pub const ALL: [Self; 6] = [
        Self::Resnet18,
        Self::Resnet34,
        Self::Resnet50,
        Self::MobilenetV2,
        Self::EfficientnetB0,
        Self::MobilenetV3Large,
    ];

    /// torchvision's function name (`torchvision.models.<name>`).
    pub fn torchvision_name(self) -> &'static str {
        match self {
            Self::Resnet18 => "resnet18",
            Self::Resnet34 => "resnet34",
            Self::Resnet50 => "resnet50",
            Self::MobilenetV2 => "mobilenet_v2",
            Self::EfficientnetB0 => "efficientnet_b0",
            Self::MobilenetV3Large => "mobilenet_v3_large",
        }
    }

    /// Where torchvision keeps the classifier, and so where the LGD head lives.
    pub fn head_prefix(self) -> &'static str {
        match self {
            Self::Resnet18 | Self::Resnet34 | Self::Resnet50 => "fc",
            _ => "classifier",
        }
    }
}

#[derive(Debug)]
enum Backbone {
    ResNet(resnet::ResNet),
    MobileNetV2(mobilenet_v2::MobileNetV2),
    EfficientNetB0(efficientnet::EfficientNetB0),
    MobileNetV3Large(mobilenet_v3::MobileNetV3Large),
}

/// Construction options that torchvision exposes as keyword arguments.
#[derive(Debug, Clone, Copy)]
pub struct StudentOptions {
    /// EfficientNet's stochastic depth (largest drop probability; torchvision's default 0.2).
    pub stochastic_depth: f64,
}

impl Default for StudentOptions {
    fn default() -> Self {
        Self { stochastic_depth: 0.2 }
    }
}

/// A backbone and its LGD head; the embedding is `[B, D]`, not normalised.
#[derive(Debug)]
pub struct Student {
    arch: StudentArch,
    backbone: Backbone,
    head: LgdHead,
    feature_dim: i64,
}

impl Student {
    /// Creates the variables under `root` (usually a VarStore's root) with torchvision's init.
    pub fn new(root: &nn::Path, arch: StudentArch, embed_dim: i64, options: StudentOptions) -> Self {
        let (backbone, feature_dim, init) = match arch {
            StudentArch::Resnet18 | StudentArch::Resnet34 | StudentArch::Resnet50 => {
                let (depths, bottleneck) = match arch {
                    StudentArch::Resnet18 => ([2, 2, 2, 2], false),
                    StudentArch::Resnet34 => ([3, 4, 6, 3], false),
                    _ => ([3, 4, 6, 3], true),
                };
                let net = resnet::ResNet::new(root, depths, bottleneck);
                let features = net.feature_dim();
                (Backbone::ResNet(net), features, ClassifierInit::PytorchDefault)
            }
            StudentArch::MobilenetV2 => (
                Backbone::MobileNetV2(mobilenet_v2::MobileNetV2::new(root)),
                mobilenet_v2::FEATURES,
                ClassifierInit::Normal001,
            ),
            StudentArch::EfficientnetB0 => (
                Backbone::EfficientNetB0(efficientnet::EfficientNetB0::new(root, options.stochastic_depth)),
                efficientnet::FEATURES,
                ClassifierInit::UniformByOutputs,
            ),
            StudentArch::MobilenetV3Large => (
                Backbone::MobileNetV3Large(mobilenet_v3::MobileNetV3Large::new(root)),
                mobilenet_v3::FEATURES,
                ClassifierInit::Normal001,
            ),
        };
        let head = LgdHead::new(root / arch.head_prefix(), feature_dim, embed_dim, init);
        Self { arch, backbone, head, feature_dim }
    }

    /// The architecture.
    pub fn arch(&self) -> StudentArch {
        self.arch
    }

    /// F, the pooled feature width.
    pub fn feature_dim(&self) -> i64 {
        self.feature_dim
    }

    /// Pooled backbone features `[B, F]` of images `[B, 3, H, W]` (what linear probes use).
    pub fn features(&self, images: &Tensor, train: bool) -> Tensor {
        match &self.backbone {
            Backbone::ResNet(net) => net.features(images, train),
            Backbone::MobileNetV2(net) => net.features(images, train),
            Backbone::EfficientNetB0(net) => net.features(images, train),
            Backbone::MobileNetV3Large(net) => net.features(images, train),
        }
    }

    /// The embedding `[B, D]` (not normalised).
    pub fn forward_t(&self, images: &Tensor, train: bool) -> Tensor {
        self.head.forward(&self.features(images, train))
    }

    /// The head alone: pooled features `[B, F]` → embedding `[B, D]` (not normalised).
    pub fn head_forward(&self, features: &Tensor) -> Tensor {
        self.head.forward(features)
    }
}

//! A whole CLIP model loaded from a user's checkpoint: the architecture inferred from the tensors,
//! both towers built by walking the keys, every tensor accounted for.

use std::path::Path;

use tch::{Device, Kind, Tensor};

use super::config::{ClipConfig, VisionConfig};
use super::layers::Activation;
use super::resnet::ModifiedResNet;
use super::text::TextTower;
use super::vit::{VisionTransformer, VitShape};
use super::weights::{ClipLoadError, Weights};

/// How to load: the run's dtype and device, and the activation the weights were trained with.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// Floating-point tensors are converted to this (float16 archives → float32 by default).
    pub kind: Kind,
    /// Where the weights live.
    pub device: Device,
    /// QuickGELU for OpenAI's weights (the default).
    pub activation: Activation,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { kind: Kind::Float, device: Device::Cpu, activation: Activation::QuickGelu }
    }
}

/// The image tower of either family.
#[derive(Debug)]
pub enum VisualTower {
    /// RN50-style.
    ResNet(ModifiedResNet),
    /// ViT-style.
    Vit(VisionTransformer),
}

/// CLIP's two towers, frozen.
#[derive(Debug)]
pub struct Clip {
    config: ClipConfig,
    visual: VisualTower,
    text: TextTower,
}

impl Clip {
    /// Loads an OpenAI TorchScript archive or a safetensors state dict.
    pub fn load(path: &Path, options: LoadOptions) -> Result<Self, ClipLoadError> {
        Self::from_weights(Weights::from_file(path, options.kind, options.device)?, options.activation)
    }

    /// Builds both towers from named tensors; errors list every missing, mis-shaped or unused one.
    pub fn from_weights(w: Weights, activation: Activation) -> Result<Self, ClipLoadError> {
        let config = ClipConfig::infer(&w)?;
        Self::build(config, w, activation)
    }

    /// Both towers of `config` with random weights (see [`super::random`]), as `options` says.
    pub fn random(config: &ClipConfig, options: LoadOptions) -> Self {
        Self::build(config.clone(), Weights::random(options.kind, options.device), options.activation)
            .expect("random weights supply every tensor the walk asks for")
    }

    /// Walks `w` for the towers of `config`.
    fn build(config: ClipConfig, mut w: Weights, activation: Activation) -> Result<Self, ClipLoadError> {
        let heads = config.vision.heads();
        let visual = match config.vision {
            VisionConfig::ResNet { layers, width, image_size } => {
                VisualTower::ResNet(ModifiedResNet::load(&mut w, layers, width, image_size, heads, config.embed_dim))
            }
            VisionConfig::Vit { width, layers, patch_size, image_size } => {
                let shape = VitShape { width, layers, heads, patch_size, image_size, embed_dim: config.embed_dim };
                VisualTower::Vit(VisionTransformer::load(&mut w, shape, activation))
            }
        };
        let text = TextTower::load(&mut w, &config.text, config.embed_dim, activation);
        w.finish()?;
        Ok(Self { config, visual, text })
    }

    /// The inferred architecture.
    pub fn config(&self) -> &ClipConfig {
        &self.config
    }

    /// CLIP-normalised images `[batch, 3, size, size]` → `[batch, embed_dim]` (not normalised).
    pub fn encode_image(&self, images: &Tensor) -> Tensor {
        let _no_grad = tch::no_grad_guard();
        match &self.visual {
            VisualTower::ResNet(net) => net.forward(images),
            VisualTower::Vit(net) => net.forward(images),
        }
    }

    /// Token ids `[batch, 77]` → `[batch, embed_dim]` (not normalised).
    pub fn encode_text(&self, tokens: &Tensor) -> Tensor {
        let _no_grad = tch::no_grad_guard();
        self.text.forward(tokens)
    }
}

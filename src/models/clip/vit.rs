//! CLIP's ViT image tower (`visual.*` of ViT-B/32, B/16, L/14): patches by a strided convolution,
//! a class token and positional embedding, `ln_pre`, the transformer, `ln_post` on the class
//! token, then the projection `visual.proj` into the joint space.

use tch::Tensor;

use super::layers::{Activation, Conv2d, LayerNorm};
use super::transformer::Transformer;
use super::weights::Weights;

/// `visual`: the whole vision transformer.
#[derive(Debug)]
pub struct VisionTransformer {
    conv1: Conv2d,
    class_embedding: Tensor,      // [width]
    positional_embedding: Tensor, // [grid² + 1, width]
    ln_pre: LayerNorm,
    transformer: Transformer,
    ln_post: LayerNorm,
    proj: Tensor, // [width, embed_dim]
}

/// The ViT's sizes, as inferred from the checkpoint.
#[derive(Debug, Clone, Copy)]
pub struct VitShape {
    /// Token width.
    pub width: i64,
    /// Transformer blocks.
    pub layers: usize,
    /// Attention heads.
    pub heads: i64,
    /// Patch side in pixels.
    pub patch_size: i64,
    /// Input side in pixels.
    pub image_size: i64,
    /// Joint embedding width.
    pub embed_dim: i64,
}

impl VisionTransformer {
    /// Loads `visual.*`.
    pub fn load(w: &mut Weights, shape: VitShape, activation: Activation) -> Self {
        let VitShape { width, layers, heads, patch_size, image_size, embed_dim } = shape;
        let grid = image_size / patch_size;
        Self {
            conv1: Conv2d::load(w, "visual.conv1", 3, width, patch_size, patch_size, 0),
            class_embedding: w.take("visual.class_embedding", &[width]),
            positional_embedding: w.take("visual.positional_embedding", &[grid * grid + 1, width]),
            ln_pre: LayerNorm::load(w, "visual.ln_pre", width),
            transformer: Transformer::load(w, "visual.transformer", width, layers, heads, activation),
            ln_post: LayerNorm::load(w, "visual.ln_post", width),
            proj: w.take("visual.proj", &[width, embed_dim]),
        }
    }

    /// `[batch, 3, size, size]` (CLIP-normalised) → `[batch, embed_dim]`, not normalised.
    pub fn forward(&self, images: &Tensor) -> Tensor {
        let patches = self.conv1.forward(images).flatten(2, 3).transpose(1, 2); // [batch, grid², width]
        let (batch, _, width) = patches.size3().expect("[batch, grid², width]");
        let class =
            self.class_embedding.to_kind(patches.kind()).reshape([1, 1, width]).expand([batch, 1, width], false);
        let tokens = Tensor::cat(&[class, patches], 1) + self.positional_embedding.to_kind(images.kind()); // [batch, grid² + 1, width]
        let tokens = self.transformer.forward(&self.ln_pre.forward(&tokens), false);
        self.ln_post.forward(&tokens.select(1, 0)).matmul(&self.proj) // [batch, embed_dim]
    }
}

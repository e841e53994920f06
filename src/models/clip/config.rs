//! A CLIP architecture, read off a checkpoint's tensor shapes the way open_clip's
//! `build_model_from_openai_state_dict` reads it, never from a file name: the same code then serves
//! RN50 … RN50x64, ViT-B/32 … L/14 and any tiny test model.

use std::collections::BTreeSet;

use super::weights::{ClipLoadError, Weights};

/// CLIP's attention head width: heads = width / 64 in every published model.
const HEAD_WIDTH: i64 = 64;

/// The image tower's architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VisionConfig {
    /// CLIP's modified ResNet (`visual.layer1…4`, `visual.attnpool`).
    ResNet {
        /// Bottlenecks per stage.
        layers: [usize; 4],
        /// Stem width; stage k has `width · 2^k` planes, the pooled feature `width · 32`.
        width: i64,
        /// Input side in pixels (32 × the attention pool's grid side).
        image_size: i64,
    },
    /// CLIP's ViT (`visual.conv1` patchifier, `visual.proj`).
    Vit {
        /// Token width.
        width: i64,
        /// Transformer blocks.
        layers: usize,
        /// Patch side in pixels.
        patch_size: i64,
        /// Input side in pixels (patch × grid side).
        image_size: i64,
    },
}

/// The text tower's architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextConfig {
    /// Tokens per prompt (77).
    pub context_length: i64,
    /// Token ids (49,408).
    pub vocab_size: i64,
    /// Token width.
    pub width: i64,
    /// Attention heads (width / 64).
    pub heads: i64,
    /// Transformer blocks.
    pub layers: usize,
}

/// Both towers and the shared embedding width.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipConfig {
    /// Width of the joint embedding space (1024 for RN50).
    pub embed_dim: i64,
    /// The image tower.
    pub vision: VisionConfig,
    /// The text tower.
    pub text: TextConfig,
}

/// Distinct values of the dotted component at `index` among names starting with `prefix`.
fn distinct_component(w: &Weights, prefix: &str, index: usize) -> usize {
    w.names_with_prefix(prefix).filter_map(|k| k.split('.').nth(index)).collect::<BTreeSet<_>>().len()
}

/// The side of a square grid from a positional embedding of `side² + 1` rows.
fn grid_side(w: &Weights, name: &str) -> Result<i64, ClipLoadError> {
    let rows = w.require_shape(name, 2)?[0];
    let side = ((rows - 1) as f64).sqrt().round() as i64;
    if side * side + 1 != rows {
        return Err(ClipLoadError::Architecture {
            path: w.path().into(),
            message: format!("`{name}` has {rows} rows, not a square grid plus one"),
        });
    }
    Ok(side)
}

impl VisionConfig {
    /// Attention heads: of the attention pool (over `width · 32` channels) or of the ViT blocks.
    pub fn heads(&self) -> i64 {
        match self {
            VisionConfig::ResNet { width, .. } => width * 32 / HEAD_WIDTH,
            VisionConfig::Vit { width, .. } => width / HEAD_WIDTH,
        }
    }

    /// Input side in pixels.
    pub fn image_size(&self) -> i64 {
        match self {
            VisionConfig::ResNet { image_size, .. } | VisionConfig::Vit { image_size, .. } => *image_size,
        }
    }
}

impl TextConfig {
    /// OpenAI's text tower: 77 tokens, 49,408 ids, `layers` blocks of `width` (heads = width / 64).
    fn openai(width: i64, layers: usize) -> Self {
        Self { context_length: 77, vocab_size: 49_408, width, heads: width / HEAD_WIDTH, layers }
    }
}

impl ClipConfig {
    /// OpenAI's RN50: stages 3-4-6-3, stem width 64, 224 px, D = 1024; text 12 × 512.
    pub fn rn50() -> Self {
        Self {
            embed_dim: 1024,
            vision: VisionConfig::ResNet { layers: [3, 4, 6, 3], width: 64, image_size: 224 },
            text: TextConfig::openai(512, 12),
        }
    }

    /// The tiny ResNet tower of the tests and the CI smoke config: one Bottleneck per stage, stem
    /// width 16, 64 px, D = 32; text 2 × 128. Fast enough for CPU tests of whole training steps.
    pub fn tiny_rn() -> Self {
        Self {
            embed_dim: 32,
            vision: VisionConfig::ResNet { layers: [1, 1, 1, 1], width: 16, image_size: 64 },
            text: TextConfig::openai(128, 2),
        }
    }

    /// Infers the architecture from tensor shapes.
    pub fn infer(w: &Weights) -> Result<Self, ClipLoadError> {
        let vision = if w.contains("visual.proj") {
            let conv = w.require_shape("visual.conv1.weight", 4)?; // [width, 3, patch, patch]
            let layers = w.names_with_prefix("visual.").filter(|k| k.ends_with(".attn.in_proj_weight")).count();
            VisionConfig::Vit {
                width: conv[0],
                layers,
                patch_size: conv[3],
                image_size: conv[3] * grid_side(w, "visual.positional_embedding")?,
            }
        } else {
            let mut layers = [0; 4];
            for (stage, count) in layers.iter_mut().enumerate() {
                *count = distinct_component(w, &format!("visual.layer{}.", stage + 1), 2);
            }
            VisionConfig::ResNet {
                layers,
                width: w.require_shape("visual.layer1.0.conv1.weight", 4)?[0],
                image_size: 32 * grid_side(w, "visual.attnpool.positional_embedding")?,
            }
        };
        let width = w.require_shape("ln_final.weight", 1)?[0];
        let text = TextConfig {
            context_length: w.require_shape("positional_embedding", 2)?[0],
            vocab_size: w.require_shape("token_embedding.weight", 2)?[0],
            width,
            heads: width / HEAD_WIDTH,
            layers: distinct_component(w, "transformer.resblocks.", 2),
        };
        Ok(Self { embed_dim: w.require_shape("text_projection", 2)?[1], vision, text })
    }
}

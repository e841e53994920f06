//! The pre-norm transformer both CLIP towers share (`transformer.resblocks.N.*` for text,
//! `visual.transformer.resblocks.N.*` for the ViT): attention with fused q/k/v projection as
//! `nn.MultiheadAttention` stores it, then an MLP with 4× width.

use tch::Tensor;

use super::layers::{Activation, LayerNorm, Linear};
use super::weights::Weights;

/// `nn.MultiheadAttention` (self-attention, batch first) with its fused input projection.
#[derive(Debug)]
struct SelfAttention {
    in_proj_weight: Tensor, // [3 · width, width]: q, k, v stacked
    in_proj_bias: Tensor,   // [3 · width]
    out_proj: Linear,
    heads: i64,
}

impl SelfAttention {
    fn load(w: &mut Weights, prefix: &str, width: i64, heads: i64) -> Self {
        Self {
            in_proj_weight: w.take(&format!("{prefix}.in_proj_weight"), &[3 * width, width]),
            in_proj_bias: w.take(&format!("{prefix}.in_proj_bias"), &[3 * width]),
            out_proj: Linear::load(w, &format!("{prefix}.out_proj"), width, width),
            heads,
        }
    }

    /// `[batch, seq, width]` → same shape; `causal` hides later positions from each query.
    fn forward(&self, x: &Tensor, causal: bool) -> Tensor {
        let (batch, seq, width) = x.size3().expect("[batch, seq, width]");
        let head_dim = width / self.heads;
        let qkv = x.linear(&self.in_proj_weight, Some(&self.in_proj_bias)); // [batch, seq, 3 · width]
        let split = |t: &Tensor| t.reshape([batch, seq, self.heads, head_dim]).transpose(1, 2); // [batch, heads, seq, head_dim]
        let parts = qkv.chunk(3, -1);
        let (q, k, v) = (split(&parts[0]), split(&parts[1]), split(&parts[2]));
        let attended = Tensor::scaled_dot_product_attention(&q, &k, &v, None::<&Tensor>, 0.0, causal, None, false);
        self.out_proj.forward(&attended.transpose(1, 2).reshape([batch, seq, width]))
    }
}

/// One `ResidualAttentionBlock`: `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))`.
#[derive(Debug)]
struct ResidualBlock {
    ln_1: LayerNorm,
    attn: SelfAttention,
    ln_2: LayerNorm,
    c_fc: Linear,
    c_proj: Linear,
    activation: Activation,
}

impl ResidualBlock {
    fn load(w: &mut Weights, prefix: &str, width: i64, heads: i64, activation: Activation) -> Self {
        Self {
            ln_1: LayerNorm::load(w, &format!("{prefix}.ln_1"), width),
            attn: SelfAttention::load(w, &format!("{prefix}.attn"), width, heads),
            ln_2: LayerNorm::load(w, &format!("{prefix}.ln_2"), width),
            c_fc: Linear::load(w, &format!("{prefix}.mlp.c_fc"), width, 4 * width),
            c_proj: Linear::load(w, &format!("{prefix}.mlp.c_proj"), 4 * width, width),
            activation,
        }
    }

    fn forward(&self, x: &Tensor, causal: bool) -> Tensor {
        let x = x + self.attn.forward(&self.ln_1.forward(x), causal);
        let hidden = self.activation.forward(&self.c_fc.forward(&self.ln_2.forward(&x))); // [batch, seq, 4 · width]
        &x + self.c_proj.forward(&hidden)
    }
}

/// `{prefix}.resblocks.0 … {prefix}.resblocks.{layers − 1}`.
#[derive(Debug)]
pub struct Transformer {
    resblocks: Vec<ResidualBlock>,
}

impl Transformer {
    /// Loads `layers` blocks of `width` with `heads` attention heads.
    pub fn load(w: &mut Weights, prefix: &str, width: i64, layers: usize, heads: i64, activation: Activation) -> Self {
        let resblocks = (0..layers)
            .map(|i| ResidualBlock::load(w, &format!("{prefix}.resblocks.{i}"), width, heads, activation))
            .collect();
        Self { resblocks }
    }

    /// `[batch, seq, width]` → same shape.
    pub fn forward(&self, x: &Tensor, causal: bool) -> Tensor {
        self.resblocks.iter().fold(x.shallow_clone(), |x, block| block.forward(&x, causal))
    }
}

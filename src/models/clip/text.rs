//! CLIP's text tower (top-level keys of OpenAI's files): token and positional embeddings, a causal
//! transformer, `ln_final`, the features at the end-of-text token (the largest id of each prompt,
//! as CLIP pools), and `text_projection` into the joint space.

use tch::{Kind, Tensor};

use super::config::TextConfig;
use super::layers::{Activation, LayerNorm};
use super::transformer::Transformer;
use super::weights::Weights;

/// The text encoder.
#[derive(Debug)]
pub struct TextTower {
    token_embedding: Tensor,      // [vocab, width]
    positional_embedding: Tensor, // [context, width]
    transformer: Transformer,
    ln_final: LayerNorm,
    text_projection: Tensor, // [width, embed_dim]
    context_length: i64,
}

impl TextTower {
    /// Loads `token_embedding.weight`, `positional_embedding`, `transformer.*`, `ln_final.*`,
    /// `text_projection`.
    pub fn load(w: &mut Weights, config: &TextConfig, embed_dim: i64, activation: Activation) -> Self {
        let TextConfig { context_length, vocab_size, width, heads, layers } = *config;
        Self {
            token_embedding: w.take("token_embedding.weight", &[vocab_size, width]),
            positional_embedding: w.take("positional_embedding", &[context_length, width]),
            transformer: Transformer::load(w, "transformer", width, layers, heads, activation),
            ln_final: LayerNorm::load(w, "ln_final", width),
            text_projection: w.take("text_projection", &[width, embed_dim]),
            context_length,
        }
    }

    /// Tokens per prompt the tower expects.
    pub fn context_length(&self) -> i64 {
        self.context_length
    }

    /// Token ids `[batch, context]` (int64, as the tokenizer makes them) → `[batch, embed_dim]`,
    /// not normalised.
    pub fn forward(&self, tokens: &Tensor) -> Tensor {
        let x = Tensor::embedding(&self.token_embedding, tokens, -1, false, false) + &self.positional_embedding; // [batch, context, width]
        let x = self.ln_final.forward(&self.transformer.forward(&x, true));
        let end = tokens.argmax(-1, false).to_kind(Kind::Int64); // [batch]: position of <end_of_text>
        let batch = Tensor::arange(x.size()[0], (Kind::Int64, x.device()));
        let pooled = x.index(&[Some(batch), Some(end)]); // [batch, width]
        pooled.matmul(&self.text_projection)
    }
}

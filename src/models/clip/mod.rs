//! CLIP, the teacher: its tokenizer (text cleaning and byte-level BPE) and its image and text
//! towers, loaded from OpenAI or open_clip checkpoints.
//!
//! - [`model`]: [`Clip`], both towers loaded from an OpenAI archive or a safetensors state dict.
//! - [`config`]: the architecture, inferred from tensor shapes.
//! - [`weights`]: the checkpoint's tensors and the key walk that checks them.
//! - [`random`]: random weights for that walk (benchmarks, tests without a checkpoint).
//! - [`resnet`], [`vit`], [`text`]: the towers; [`transformer`], [`layers`]: their parts.
//! - [`tokenizer`]: prompts → `[N, 77]` token ids, equal to open_clip's.
//! - [`bpe`]: the vocabulary file and the merge loop.
//! - [`text_clean`]: the cleaning CLIP applies first (the reproduced part of ftfy, HTML, case).
//! - [`prompt_bank`]: the text bank T from class names × templates, cached by content hash.
//! - [`html_unescape`]: HTML character references, as Python's `html` and ftfy decode them.

pub mod bpe;
pub mod config;
pub mod html_unescape;
pub mod layers;
pub mod model;
pub mod prompt_bank;
pub mod random;
pub mod resnet;
pub mod text;
pub mod text_clean;
pub mod tokenizer;
pub mod transformer;
pub mod vit;
pub mod weights;

pub use config::{ClipConfig, TextConfig, VisionConfig};
pub use layers::Activation;
pub use model::{Clip, LoadOptions};
pub use tokenizer::{default_vocab_path, ClipTokenizer, Overflow, TokenizerError, CONTEXT_LENGTH};
pub use weights::ClipLoadError;

//! CLIP, the teacher: its tokenizer (text cleaning and byte-level BPE) and, as they land, its image
//! and text towers loaded from OpenAI or open_clip checkpoints.
//!
//! - [`tokenizer`]: prompts → `[N, 77]` token ids, equal to open_clip's.
//! - [`bpe`]: the vocabulary file and the merge loop.
//! - [`text_clean`]: the cleaning CLIP applies first (the reproduced part of ftfy, HTML, case).
//! - [`html_unescape`]: HTML character references, as Python's `html` and ftfy decode them.

pub mod bpe;
pub mod html_unescape;
pub mod text_clean;
pub mod tokenizer;

pub use tokenizer::{default_vocab_path, ClipTokenizer, Overflow, TokenizerError, CONTEXT_LENGTH};

//! CLIP's tokenizer: cleaned text → pre-tokens → byte-level BPE ids, framed by
//! `<start_of_text>` / `<end_of_text>` and zero-padded to the context length (77), token for token
//! what open_clip's `SimpleTokenizer` produces. A prompt that does not fit is an error unless
//! truncation is asked for, because a silently cut prompt changes the text bank.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use tch::Tensor;

use super::bpe::Bpe;
use super::text_clean::clean_lower;

/// CLIP's context length: every tokenized prompt is this many ids.
pub const CONTEXT_LENGTH: usize = 77;
/// The vocabulary file's name, as the reference packages ship it.
pub const VOCAB_FILE_NAME: &str = "bpe_simple_vocab_16e6.txt.gz";
const START_OF_TEXT: &str = "<start_of_text>";
const END_OF_TEXT: &str = "<end_of_text>";

/// The reference's pre-tokenizer: special tokens, English contractions, runs of letters, single
/// digits, runs of other non-space characters. The reference compiles it case-insensitively with
/// Python's `regex`, which folds case in literals (`'ſ` is the contraction `'s`) and in the negated
/// class (U+0345, whose case partners are letters, is no "other" character) but not in the `\p{L}`
/// and `\p{N}` alternatives (U+0345 is no letter either: it is dropped). Rust's `(?i)` would fold the
/// letter class too, hence `(?-i:…)` there.
static PRE_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|(?-i:\p{L}+)|(?-i:\p{N})|[^\s\p{L}\p{N}]+")
        .unwrap()
});

/// Why text could not be tokenized, or the vocabulary not loaded.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// The vocabulary file is not there.
    #[error("{path}: CLIP BPE vocabulary not found; run `make setup` (it fetches {VOCAB_FILE_NAME} into .cache/clip/) or set {VOCAB_ENV} to its path")]
    VocabMissing {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The vocabulary file could not be read or decompressed.
    #[error("{path}: reading the CLIP BPE vocabulary: {source}")]
    VocabRead {
        /// The file.
        path: PathBuf,
        /// The I/O or gzip error.
        source: std::io::Error,
    },
    /// The decompressed vocabulary is not a merges list.
    #[error("{path}:{line}: not a CLIP BPE merges file: {message}")]
    VocabFormat {
        /// The file.
        path: PathBuf,
        /// 1-based line of the decompressed text.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A prompt needs more ids than the context holds and truncation was not asked for.
    #[error("prompt `{text}` is {tokens} tokens with start and end, more than the context length {context}")]
    TooLong {
        /// The prompt as given.
        text: String,
        /// Its length in ids, including start and end.
        tokens: usize,
        /// The context length.
        context: usize,
    },
}

/// What to do with a prompt longer than the context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Refuse it with [`TokenizerError::TooLong`].
    Error,
    /// Keep the first `context` ids and make the last one `<end_of_text>` (open_clip's behaviour).
    Truncate,
}

/// Where the vocabulary is read from: `LGD_CLIP_VOCAB` when set (a binary run away from its
/// checkout), else where `make setup` puts it in the checkout the binary was built in.
pub fn default_vocab_path() -> PathBuf {
    match std::env::var_os(VOCAB_ENV) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/clip").join(VOCAB_FILE_NAME),
    }
}

/// The environment variable naming the vocabulary file.
pub const VOCAB_ENV: &str = "LGD_CLIP_VOCAB";

/// CLIP's tokenizer with its vocabulary loaded.
#[derive(Debug)]
pub struct ClipTokenizer {
    bpe: Bpe,
    start_id: u32,
    end_id: u32,
    context_length: usize,
}

impl ClipTokenizer {
    /// Loads the vocabulary from `path`, or from [`default_vocab_path`] when `None`.
    pub fn load(path: Option<&Path>) -> Result<Self, TokenizerError> {
        let path = path.map_or_else(default_vocab_path, Path::to_path_buf);
        let bpe = Bpe::from_gz_file(&path, &[START_OF_TEXT, END_OF_TEXT])?;
        let start_id = bpe.id_of(START_OF_TEXT).expect("special tokens are in the vocabulary");
        let end_id = bpe.id_of(END_OF_TEXT).expect("special tokens are in the vocabulary");
        Ok(Self { bpe, start_id, end_id, context_length: CONTEXT_LENGTH })
    }

    /// Number of token ids (49,408 for CLIP).
    pub fn vocab_size(&self) -> usize {
        self.bpe.vocab_size()
    }

    /// Id of `<start_of_text>`.
    pub fn start_id(&self) -> u32 {
        self.start_id
    }

    /// Id of `<end_of_text>`; the text tower pools at its position (the largest id in a prompt).
    pub fn end_id(&self) -> u32 {
        self.end_id
    }

    /// The ids of `text` alone, without start, end or padding (open_clip's `encode`).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let cleaned = clean_lower(text);
        let mut ids = Vec::new();
        for piece in PRE_TOKEN.find_iter(&cleaned) {
            match piece.as_str() {
                START_OF_TEXT => ids.push(self.start_id),
                END_OF_TEXT => ids.push(self.end_id),
                word => self.bpe.encode_word(word, &mut ids),
            }
        }
        ids
    }

    /// One prompt framed by start and end and zero-padded: `context_length` ids.
    pub fn tokenize(&self, text: &str, overflow: Overflow) -> Result<Vec<i64>, TokenizerError> {
        let mut ids: Vec<i64> = Vec::with_capacity(self.context_length);
        ids.push(self.start_id as i64);
        ids.extend(self.encode(text).into_iter().map(i64::from));
        ids.push(self.end_id as i64);
        if ids.len() > self.context_length {
            match overflow {
                Overflow::Error => {
                    return Err(TokenizerError::TooLong {
                        text: text.to_owned(),
                        tokens: ids.len(),
                        context: self.context_length,
                    })
                }
                Overflow::Truncate => {
                    ids.truncate(self.context_length);
                    ids[self.context_length - 1] = self.end_id as i64;
                }
            }
        }
        ids.resize(self.context_length, 0);
        Ok(ids)
    }

    /// Several prompts as one `[prompts, context_length]` int64 tensor on the CPU.
    pub fn tokenize_batch<S: AsRef<str>>(&self, texts: &[S], overflow: Overflow) -> Result<Tensor, TokenizerError> {
        let mut flat = Vec::with_capacity(texts.len() * self.context_length);
        for text in texts {
            flat.extend(self.tokenize(text.as_ref(), overflow)?);
        }
        Ok(Tensor::from_slice(&flat).reshape([texts.len() as i64, self.context_length as i64]))
        // [prompts, 77]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pre_tokens_split_like_the_reference() {
        let pieces: Vec<&str> = PRE_TOKEN.find_iter("it's 2024: a <end_of_text>café!!").map(|m| m.as_str()).collect();
        assert_eq!(pieces, ["it", "'s", "2", "0", "2", "4", ":", "a", "<end_of_text>", "café", "!!"]);
        let pieces: Vec<&str> = PRE_TOKEN.find_iter("it'ſ a\u{345}b").map(|m| m.as_str()).collect();
        assert_eq!(pieces, ["it", "'ſ", "a", "b"]);
    }

    #[test]
    fn a_missing_vocabulary_names_the_path_and_the_fix() {
        let err = ClipTokenizer::load(Some(Path::new("/nonexistent/vocab.txt.gz"))).unwrap_err().to_string();
        assert!(
            err.starts_with("/nonexistent/vocab.txt.gz: CLIP BPE vocabulary not found") && err.contains("make setup"),
            "{err}"
        );
    }
}

//! The text bank T from CLIP's text tower (DESIGN §1): every category name in every prompt
//! template, tokenised, embedded, each embedding normalised, averaged over the templates and
//! normalised again. Prompts are embedded in batches; the result is cached in a file whose metadata
//! holds a content hash of (teacher file, class names, templates), so a second request is free.

use std::collections::HashMap;
use std::io::Read;
use std::ops::ControlFlow;
use std::path::Path;

use lgd_datasets::classnames::{ClassNames, Templates};
use sha2::{Digest, Sha256};
use tch::Tensor;

use super::tokenizer::{ClipTokenizer, Overflow, TokenizerError};
use super::Clip;
use crate::objective::{BankError, TextBank};
use crate::tensor_io::read_safetensors;

/// Metadata key of the cache key in a bank file.
const CACHE_KEY: &str = "lgd.cache_key";

/// Why a text bank could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum PromptBankError {
    /// A prompt could not be tokenised (e.g. longer than the context).
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    /// The bank could not be built or written.
    #[error(transparent)]
    Bank(#[from] BankError),
    /// The progress callback asked to stop (a stop request during `lgd train`'s start-up).
    #[error("stopped after {done} of {total} prompts")]
    Stopped {
        /// Prompts embedded.
        done: usize,
        /// Prompts in all.
        total: usize,
    },
    /// The teacher file could not be hashed.
    #[error("{path}: {source}")]
    Io {
        /// The teacher file.
        path: std::path::PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
}

/// sha256 over the teacher file's bytes, the names and the templates, in order.
pub fn cache_key(teacher: &Path, names: &ClassNames, templates: &Templates) -> Result<String, PromptBankError> {
    let io = |source| PromptBankError::Io { path: teacher.into(), source };
    let mut hasher = Sha256::new();
    let mut file = std::fs::File::open(teacher).map_err(io)?;
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer).map_err(io)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    for list in [names.names(), templates.templates()] {
        hasher.update((list.len() as u64).to_le_bytes());
        for item in list {
            hasher.update((item.len() as u64).to_le_bytes());
            hasher.update(item.as_bytes());
        }
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The bank in `path` if it was computed for `key`; `None` when absent or for another key.
pub fn cached_bank(path: &Path, key: &str, classes: usize) -> Option<TextBank> {
    let metadata = read_safetensors(path).ok()?.metadata;
    (metadata.get(CACHE_KEY).map(String::as_str) == Some(key)).then(|| TextBank::load(path, Some(classes)).ok())?
}

/// Computes T `[D, C]`, embedding `batch` prompts at a time; `progress(done, total)` after each
/// batch, which stops the computation (`PromptBankError::Stopped`) by breaking.
pub fn compute_text_bank(
    clip: &Clip,
    tokenizer: &ClipTokenizer,
    names: &ClassNames,
    templates: &Templates,
    batch: usize,
    mut progress: impl FnMut(usize, usize) -> ControlFlow<()>,
) -> Result<TextBank, PromptBankError> {
    let prompts: Vec<String> = names.names().iter().flat_map(|name| templates.render(name)).collect();
    let total = prompts.len();
    let mut embeddings = Vec::new();
    for chunk in prompts.chunks(batch.max(1)) {
        let tokens = tokenizer.tokenize_batch(chunk, Overflow::Error)?; // [n, 77]
        embeddings.push(clip.encode_text(&tokens)); // [n, D]
        let done = embeddings.iter().map(|e| e.size()[0] as usize).sum();
        if progress(done, total).is_break() {
            return Err(PromptBankError::Stopped { done, total });
        }
    }
    let all = Tensor::cat(&embeddings, 0); // [C·K, D]
    let (classes, per_class) = (names.len() as i64, templates.templates().len() as i64);
    Ok(TextBank::from_prompt_embeddings(&all.reshape([classes, per_class, -1]))?)
}

/// Writes `bank` to `path` with its cache key.
pub fn save_with_key(bank: &TextBank, path: &Path, key: &str) -> Result<(), PromptBankError> {
    Ok(bank.save(path, &HashMap::from([(CACHE_KEY.to_owned(), key.to_owned())]))?)
}

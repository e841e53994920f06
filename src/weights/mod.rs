//! Weight files users have, read into a flat state dict: safetensors, and `torch.save` files (zip or
//! legacy format, `.pth`/`.pt`/`.pth.tar`), with wrappers and prefixes normalised. All in Rust: no
//! Python is needed to load a checkpoint. `torch_writer` writes what `torch.load` reads.

pub mod normalise;
pub mod pickle;
pub mod torch_file;
pub mod torch_writer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tch::Tensor;

use crate::tensor_io::{read_safetensors, TensorIoError};
pub use normalise::Normalisation;
use torch_file::{read_torch_file, TorchFileError};

/// Why weights could not be had from a file.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// A safetensors file failed.
    #[error(transparent)]
    Safetensors(#[from] TensorIoError),
    /// A torch.save file failed.
    #[error(transparent)]
    Torch(#[from] TorchFileError),
    /// The file holds no dict of tensors.
    #[error("{path}: holds no state dict (no dict of tensors at the top or under `state_dict`/`model`/`student`)")]
    NoStateDict {
        /// The file.
        path: PathBuf,
    },
}

/// Reads a weight file (by content: safetensors or torch.save) and normalises its keys.
pub fn load_weights(path: &Path) -> Result<(BTreeMap<String, Tensor>, Normalisation), WeightsError> {
    let is_safetensors = path.extension().is_some_and(|e| e == "safetensors");
    let (tensors, unwrapped) = if is_safetensors {
        (read_safetensors(path)?.tensors, None)
    } else {
        normalise::find_state_dict(read_torch_file(path)?)
            .ok_or_else(|| WeightsError::NoStateDict { path: path.into() })?
    };
    let (tensors, mut report) = normalise::normalise_keys(tensors);
    report.unwrapped = unwrapped;
    Ok((tensors, report))
}

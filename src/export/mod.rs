//! `lgd export`: a trained student out of any checkpoint `lgd` reads, in the layout the next tool
//! wants — torchvision (`torch.load` + `load_state_dict`), safetensors, or the MobileNetV2 backbone
//! layouts of mmdetection / mmsegmentation (saved as `{"state_dict": …}`) for transfer.

pub mod mmlab_mobilenet_v2;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use tch::Tensor;

use crate::tensor_io::{write_safetensors, TensorIoError};
use crate::weights::torch_writer::{write_torch_file, SaveValue, TorchWriteError};
use crate::weights::{load_weights, WeightsError};
use mmlab_mobilenet_v2::{map_key, MmLab};

/// The output layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// torchvision key names in a torch.save file (head included, under `fc.`/`classifier.`).
    Torchvision,
    /// torchvision key names in a safetensors file.
    Safetensors,
    /// mmdetection 2.x MobileNetV2 backbone, `{"state_dict": …}` in a torch.save file.
    MmdetMnv2,
    /// mmsegmentation 0.x MobileNetV2 backbone, `{"state_dict": …}` in a torch.save file.
    MmsegMnv2,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The checkpoint could not be read.
    #[error(transparent)]
    Read(#[from] WeightsError),
    /// The mmlab layouts are for MobileNetV2 checkpoints.
    #[error("{path}: not a MobileNetV2 checkpoint ({unmapped} backbone keys outside the MobileNetV2 layout, e.g. `{example}`)")]
    NotMobileNetV2 {
        /// The checkpoint.
        path: PathBuf,
        /// How many keys did not map.
        unmapped: usize,
        /// One of them.
        example: String,
    },
    /// Writing a torch file failed.
    #[error(transparent)]
    WriteTorch(#[from] TorchWriteError),
    /// Writing a safetensors file failed.
    #[error(transparent)]
    WriteSafetensors(#[from] TensorIoError),
}

/// What an export wrote.
#[derive(Debug)]
pub struct ExportSummary {
    /// Tensors written.
    pub written: usize,
    /// Tensors left out (the LGD head, for backbone-only layouts).
    pub left_out: usize,
}

/// Backbone keys of the mmlab layout, mapped; every key mapped exactly once.
pub fn to_mmlab(
    tensors: &BTreeMap<String, Tensor>,
    layout: MmLab,
    path: &Path,
) -> Result<(BTreeMap<String, Tensor>, usize), ExportError> {
    let mut mapped = BTreeMap::new();
    let mut left_out = 0;
    let mut unmapped = Vec::new();
    for (key, tensor) in tensors {
        if key.starts_with("classifier.") {
            left_out += 1;
            continue;
        }
        match map_key(key, layout) {
            Some(target) => {
                let previous = mapped.insert(target.clone(), tensor.shallow_clone());
                assert!(previous.is_none(), "two keys mapped to {target}");
            }
            None => unmapped.push(key.clone()),
        }
    }
    if let Some(example) = unmapped.first() {
        return Err(ExportError::NotMobileNetV2 { path: path.into(), unmapped: unmapped.len(), example: example.clone() });
    }
    Ok((mapped, left_out))
}

/// Reads `checkpoint` (any format `lgd` reads) and writes it to `out` in `format`.
pub fn export(checkpoint: &Path, format: ExportFormat, out: &Path) -> Result<ExportSummary, ExportError> {
    let (tensors, report) = load_weights(checkpoint)?;
    tracing::info!(checkpoint = %checkpoint.display(), tensors = tensors.len(), ?report, "read checkpoint");
    match format {
        ExportFormat::Torchvision => {
            let dict = tensors.iter().map(|(k, t)| (k.clone(), SaveValue::Tensor(t))).collect();
            write_torch_file(out, &SaveValue::Dict(dict))?;
            Ok(ExportSummary { written: tensors.len(), left_out: 0 })
        }
        ExportFormat::Safetensors => {
            let named: Vec<(&str, &Tensor)> = tensors.iter().map(|(k, t)| (k.as_str(), t)).collect();
            write_safetensors(out, &named, &HashMap::from([("lgd.layout".into(), "torchvision".into())]))?;
            Ok(ExportSummary { written: tensors.len(), left_out: 0 })
        }
        ExportFormat::MmdetMnv2 | ExportFormat::MmsegMnv2 => {
            let layout = if format == ExportFormat::MmdetMnv2 { MmLab::Detection } else { MmLab::Segmentation };
            let (mapped, left_out) = to_mmlab(&tensors, layout, checkpoint)?;
            let inner = mapped.iter().map(|(k, t)| (k.clone(), SaveValue::Tensor(t))).collect();
            let root = SaveValue::Dict(BTreeMap::from([("state_dict".to_owned(), SaveValue::Dict(inner))]));
            write_torch_file(out, &root)?;
            Ok(ExportSummary { written: mapped.len(), left_out })
        }
    }
}

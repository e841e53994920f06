//! Training checkpoints: everything a run needs to continue exactly — student weights, momentum
//! buffers, the visual bank and its seen flags, the gradient scaler, the position (epoch, step) and
//! the config — in one safetensors file, written atomically, with a checksum over every tensor so a
//! torn or corrupted file is detected and the previous checkpoint used instead.

mod retention;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tch::{Device, Kind, Tensor};

use crate::tensor_io::{read_safetensors, write_safetensors, TensorIoError};
pub use retention::{checkpoint_path, list_checkpoints, newest_valid, prune};

/// Why a checkpoint could not be written or used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Reading or writing the file failed (a full disk shows up here; the old file is intact).
    #[error(transparent)]
    File(#[from] TensorIoError),
    /// The file is not an lgd checkpoint or lacks an entry.
    #[error("{path}: not an lgd checkpoint: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is missing or malformed.
        message: String,
    },
    /// The tensors do not match the checksum written with them.
    #[error("{path}: checksum mismatch (file corrupted or truncated)")]
    Checksum {
        /// The file.
        path: PathBuf,
    },
}

/// The whole state of a run at a step boundary.
#[derive(Debug)]
pub struct TrainingState {
    /// Optimiser steps taken so far.
    pub step: u64,
    /// The epoch in progress.
    pub epoch: u64,
    /// Steps of that epoch already done (where the sampler resumes).
    pub step_in_epoch: u64,
    /// Student variables by name.
    pub model: BTreeMap<String, Tensor>,
    /// SGD momentum buffers by parameter name.
    pub momentum: BTreeMap<String, Tensor>,
    /// V `[D, C]`.
    pub visual_bank: Tensor,
    /// Seen flags `[C]`.
    pub seen: Tensor,
    /// Gradient scaler (scale, growth tracker) for fp16 runs.
    pub scaler: Option<(f64, u32)>,
    /// The run's config, as TOML.
    pub config: String,
    /// The training data it was written over; `None` until the daemon's checkpointer stamps it,
    /// and in checkpoints of versions before 2026-12.
    pub data: Option<DataShape>,
}

/// The size of a run's training data. A resume over data of another size would not continue the
/// checkpoint's epoch: the seeded order of the epoch is another permutation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataShape {
    /// Training samples.
    pub samples: u64,
    /// Classes (folders, or the packed index's class names).
    pub classes: u64,
}

const MODEL: &str = "model.";
const MOMENTUM: &str = "momentum.";

/// sha256 over every tensor's name, dtype, shape and bytes, in name order.
fn checksum(tensors: &BTreeMap<String, Tensor>) -> String {
    let mut hasher = Sha256::new();
    for (name, tensor) in tensors {
        let cpu = tensor.to_device(Device::Cpu).contiguous();
        let numel = cpu.numel();
        let mut bytes = vec![0u8; numel * cpu.kind().elt_size_in_bytes()];
        cpu.copy_data_u8(&mut bytes, numel);
        hasher.update(name.as_bytes());
        hasher.update(format!("{:?}{:?}", cpu.kind(), cpu.size()).as_bytes());
        hasher.update(&bytes);
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl TrainingState {
    /// A copy in host memory that shares no storage with this state: what a checkpoint writer
    /// holds while training goes on changing the tensors in place.
    pub fn host_copy(&self) -> Self {
        let copy = |t: &Tensor| t.to_device_(Device::Cpu, t.kind(), false, true);
        let copies = |map: &BTreeMap<String, Tensor>| map.iter().map(|(k, t)| (k.clone(), copy(t))).collect();
        Self {
            model: copies(&self.model),
            momentum: copies(&self.momentum),
            visual_bank: copy(&self.visual_bank),
            seen: copy(&self.seen),
            config: self.config.clone(),
            ..*self
        }
    }

    /// Writes the state to `path` (atomically: the previous file stays whole if this fails).
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        let mut tensors: BTreeMap<String, Tensor> = BTreeMap::new();
        for (name, t) in &self.model {
            tensors.insert(format!("{MODEL}{name}"), t.shallow_clone());
        }
        for (name, t) in &self.momentum {
            tensors.insert(format!("{MOMENTUM}{name}"), t.shallow_clone());
        }
        tensors.insert("bank.visual".into(), self.visual_bank.shallow_clone());
        tensors.insert("bank.seen".into(), self.seen.shallow_clone());
        let mut metadata = HashMap::from([
            ("lgd.kind".to_owned(), "checkpoint".to_owned()),
            ("lgd.step".to_owned(), self.step.to_string()),
            ("lgd.epoch".to_owned(), self.epoch.to_string()),
            ("lgd.step_in_epoch".to_owned(), self.step_in_epoch.to_string()),
            ("lgd.config".to_owned(), self.config.clone()),
            ("lgd.checksum".to_owned(), checksum(&tensors)),
        ]);
        if let Some((scale, tracker)) = self.scaler {
            metadata.insert("lgd.scaler".into(), format!("{scale} {tracker}"));
        }
        if let Some(DataShape { samples, classes }) = self.data {
            metadata.insert("lgd.data".into(), format!("{samples} {classes}"));
        }
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(|source| TensorIoError::Io { path: folder.to_owned(), source })?;
        }
        let named: Vec<(&str, &Tensor)> = tensors.iter().map(|(k, t)| (k.as_str(), t)).collect();
        write_safetensors(path, &named, &metadata)?;
        Ok(())
    }

    /// Reads and verifies a checkpoint.
    pub fn load(path: &Path) -> Result<Self, CheckpointError> {
        let file = read_safetensors(path)?;
        let format = |message: &str| CheckpointError::Format { path: path.into(), message: message.into() };
        let meta = |key: &str| file.metadata.get(key).ok_or_else(|| format(&format!("no `{key}` metadata")));
        if meta("lgd.kind")? != "checkpoint" {
            return Err(format("`lgd.kind` is not `checkpoint`"));
        }
        if checksum(&file.tensors) != *meta("lgd.checksum")? {
            return Err(CheckpointError::Checksum { path: path.into() });
        }
        let number = |key: &str| meta(key)?.parse::<u64>().map_err(|_| format(&format!("`{key}` is not a number")));
        let scaler = match file.metadata.get("lgd.scaler") {
            None => None,
            Some(text) => {
                let (scale, tracker) = text.split_once(' ').ok_or_else(|| format("bad `lgd.scaler`"))?;
                Some((
                    scale.parse().map_err(|_| format("bad scale"))?,
                    tracker.parse().map_err(|_| format("bad tracker"))?,
                ))
            }
        };
        let data = match file.metadata.get("lgd.data") {
            None => None,
            Some(text) => {
                let counts = text.split_once(' ').and_then(|(s, c)| Some((s.parse().ok()?, c.parse().ok()?)));
                let (samples, classes) = counts.ok_or_else(|| format("bad `lgd.data`"))?;
                Some(DataShape { samples, classes })
            }
        };
        let (step, epoch, step_in_epoch) = (number("lgd.step")?, number("lgd.epoch")?, number("lgd.step_in_epoch")?);
        let config = meta("lgd.config")?.clone();
        let mut tensors = file.tensors;
        let mut take = |name: &str| tensors.remove(name).ok_or_else(|| format(&format!("no tensor `{name}`")));
        let visual_bank = take("bank.visual")?;
        let seen = take("bank.seen")?;
        if seen.kind() != Kind::Bool {
            return Err(format("`bank.seen` is not bool"));
        }
        let mut model = BTreeMap::new();
        let mut momentum = BTreeMap::new();
        for (name, tensor) in tensors {
            if let Some(rest) = name.strip_prefix(MODEL) {
                model.insert(rest.to_owned(), tensor);
            } else if let Some(rest) = name.strip_prefix(MOMENTUM) {
                momentum.insert(rest.to_owned(), tensor);
            }
        }
        Ok(Self { step, epoch, step_in_epoch, model, momentum, visual_bank, seen, scaler, config, data })
    }
}

#[cfg(test)]
mod tests;

//! `lgd export`: the trained backbone out of the system, in the layout the next tool loads —
//! torchvision (`torch.load` + `load_state_dict`), safetensors, or the backbones of mmdetection 3.x /
//! mmsegmentation 1.x (`{"state_dict": …}`, for detection and segmentation transfer).
//!
//! The product is the backbone: the LGD projection head is left out unless asked for, and then
//! written as `lgd_head.*` so it never collides with the target's own classifier. Everything is
//! checked before anything is written: a file that would not load is never produced.

pub mod mmlab_mobilenet_v2;
mod source;
mod target;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use tch::Tensor;

use crate::checkpoint::CheckpointError;
use crate::models::student::StudentArch;
use crate::tensor_io::{write_safetensors, TensorIoError};
use crate::weights::torch_writer::{write_torch_file, SaveValue, TorchWriteError};
use crate::weights::WeightsError;
pub use source::{read_student, StudentWeights};
pub use target::{load_line, Fate, Layout};

/// Where the head goes when it is kept: a name no target network uses.
pub const HEAD_PREFIX: &str = "lgd_head.";

/// The output layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// torchvision key names in a torch.save file (every student).
    Torchvision,
    /// torchvision key names in a safetensors file (every student).
    Safetensors,
    /// mmdetection 3.x backbone (`ResNet`, `MobileNetV2`), `{"state_dict": …}` in a torch.save file.
    Mmdet,
    /// mmsegmentation 1.x backbone (`ResNet`, `MobileNetV2`), `{"state_dict": …}` in a torch.save file.
    Mmseg,
}

impl ExportFormat {
    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Torchvision => "torchvision",
            Self::Safetensors => "safetensors",
            Self::Mmdet => "mmdet",
            Self::Mmseg => "mmseg",
        }
    }
}

/// Why an export failed; nothing is written in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The weight file could not be read.
    #[error(transparent)]
    Read(#[from] WeightsError),
    /// A safetensors file could not be read, or the output could not be written.
    #[error(transparent)]
    Safetensors(#[from] TensorIoError),
    /// An lgd checkpoint that does not verify.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// An lgd checkpoint whose config does not parse (so its architecture is unknown).
    #[error("{path}: its config: {message}")]
    CheckpointConfig {
        /// The checkpoint.
        path: PathBuf,
        /// The config error.
        message: String,
    },
    /// A run folder without a checkpoint that verifies.
    #[error("{run_dir}: no checkpoint to export (checkpoints/ holds no step-*.safetensors that verifies{})",
        if *broken > 0 { format!("; {broken} broken") } else { String::new() })]
    NoCheckpoint {
        /// The folder.
        run_dir: PathBuf,
        /// Checkpoints that failed to verify.
        broken: usize,
    },
    /// The tensors are not a student lgd knows (or not the one its config names).
    #[error("{path}: does not fit the {arch} student: {reason} ({counts})")]
    DoesNotFit {
        /// The file.
        path: PathBuf,
        /// The architecture compared against.
        arch: &'static str,
        /// The first misfit.
        reason: String,
        /// How many tensors were wrong.
        counts: String,
    },
    /// The format's library has no backbone of this architecture.
    #[error("{path}: {format} takes ResNet-18/34/50 and MobileNetV2 students, not {arch} (torchvision and safetensors take every student)")]
    ArchDoesNotFit {
        /// The checkpoint.
        path: PathBuf,
        /// Its architecture.
        arch: &'static str,
        /// The format asked for.
        format: &'static str,
    },
    /// A backbone tensor the layout has no place for, or two placed on one name.
    #[error("{format} layout for {arch}: cannot place `{key}`{}; the layout takes {expectation}",
        .clash.as_ref().map(|other| format!(" (`{other}` is already written there)")).unwrap_or_default())]
    Unmapped {
        /// The format.
        format: &'static str,
        /// The architecture.
        arch: &'static str,
        /// The first key that found no place.
        key: String,
        /// Another key that maps to the same name, when that is the problem.
        clash: Option<String>,
        /// What the layout expects.
        expectation: &'static str,
    },
    /// `--head` on a checkpoint that has none.
    #[error("{path}: --head: the checkpoint holds no head under `{prefix}.*` (an export of the backbone alone?)")]
    NoHead {
        /// The checkpoint.
        path: PathBuf,
        /// Where the head would be.
        prefix: &'static str,
    },
    /// Writing the torch.save file failed.
    #[error(transparent)]
    WriteTorch(#[from] TorchWriteError),
}

/// What an export wrote, and what it left out and why: the lines the CLI prints.
#[derive(Debug)]
pub struct ExportSummary {
    /// The student's architecture.
    pub arch: StudentArch,
    /// What was read.
    pub origin: String,
    /// Tensors written.
    pub written: usize,
    /// One line per group of tensors left out, saying which and why.
    pub left_out: Vec<String>,
    /// What was written where, in words.
    pub wrote: String,
    /// How to load the file.
    pub load_line: String,
}

impl ExportSummary {
    /// The lines a user reads: what was left out and why, what was written, how to load it.
    pub fn lines(&self) -> impl Iterator<Item = String> + '_ {
        self.left_out.iter().cloned().chain([self.wrote.clone(), format!("load it with: {}", self.load_line)])
    }
}

/// Reads the student of `checkpoint` (a file or a run folder) and writes it to `out` in `format`,
/// with the head (as `lgd_head.*`) only when `keep_head`.
pub fn export(
    checkpoint: &Path,
    format: ExportFormat,
    out: &Path,
    keep_head: bool,
) -> Result<ExportSummary, ExportError> {
    let student = read_student(checkpoint)?;
    let arch = student.arch;
    let arch_name = arch.torchvision_name();
    let layout = Layout::of(format, arch).ok_or(ExportError::ArchDoesNotFit {
        path: checkpoint.into(),
        arch: arch_name,
        format: format.name(),
    })?;

    let mut backbone: BTreeMap<String, &Tensor> = BTreeMap::new();
    let mut placed_from: HashMap<String, &str> = HashMap::new();
    let mut dropped: BTreeMap<&'static str, Vec<&str>> = BTreeMap::new();
    for (key, tensor) in &student.backbone {
        match layout.fate(key) {
            Fate::Written(name) => {
                if let Some(other) = placed_from.insert(name.clone(), key) {
                    return Err(unmapped(format, arch, key, Some(other.to_owned()), layout));
                }
                backbone.insert(name, tensor);
            }
            Fate::LeftOut(why) => dropped.entry(why).or_default().push(key),
            Fate::Unmapped => return Err(unmapped(format, arch, key, None, layout)),
        }
    }
    let mut left_out: Vec<String> = dropped
        .into_iter()
        .map(|(why, keys)| format!("left out {} ({} tensors): {why}", group(&keys), keys.len()))
        .collect();

    let prefix = arch.head_prefix();
    let head_keys: Vec<String> = student.head.keys().map(|k| format!("{prefix}.{k}")).collect();
    let head_name = if student.head_is_lgd() { "the LGD projection head" } else { "the classifier" };
    let head: BTreeMap<String, &Tensor> = if keep_head {
        if student.head.is_empty() {
            return Err(ExportError::NoHead { path: checkpoint.into(), prefix });
        }
        student.head.iter().map(|(k, t)| (format!("{HEAD_PREFIX}{k}"), t)).collect()
    } else {
        if !student.head.is_empty() {
            left_out.push(format!(
                "left out {head_name} ({}): the export is the backbone; --head keeps it as {HEAD_PREFIX}*",
                head_keys.join(", ")
            ));
        }
        BTreeMap::new()
    };

    write(format, out, arch, &backbone, &head)?;
    let file = out.display().to_string();
    let written = backbone.len() + head.len();
    let what = if keep_head { "backbone and head" } else { "backbone" };
    Ok(ExportSummary {
        arch,
        wrote: format!(
            "exported {arch_name} ({} {what}) from {} to {file}: {written} tensors",
            format.name(),
            student.origin
        ),
        origin: student.origin,
        written,
        left_out,
        load_line: load_line(format, arch, &file, keep_head),
    })
}

fn unmapped(format: ExportFormat, arch: StudentArch, key: &str, clash: Option<String>, layout: Layout) -> ExportError {
    ExportError::Unmapped {
        format: format.name(),
        arch: arch.torchvision_name(),
        key: key.to_owned(),
        clash,
        expectation: layout.expectation(),
    }
}

/// Keys under one prefix as `prefix.*` (e.g. `features.18.*`), else listed.
fn group(keys: &[&str]) -> String {
    let first: Vec<&str> = keys[0].split('.').collect();
    let shared = keys
        .iter()
        .map(|k| k.split('.').zip(&first).take_while(|(a, b)| a == *b).count())
        .min()
        .unwrap_or(0)
        .min(first.len() - 1);
    if shared == 0 {
        keys.join(", ")
    } else {
        format!("{}.*", first[..shared].join("."))
    }
}

fn write(
    format: ExportFormat,
    out: &Path,
    arch: StudentArch,
    backbone: &BTreeMap<String, &Tensor>,
    head: &BTreeMap<String, &Tensor>,
) -> Result<(), ExportError> {
    fn values<'a>(map: &BTreeMap<String, &'a Tensor>) -> BTreeMap<String, SaveValue<'a>> {
        map.iter().map(|(k, t)| (k.clone(), SaveValue::Tensor(t))).collect()
    }
    match format {
        ExportFormat::Torchvision => {
            let mut all = values(backbone);
            all.extend(values(head));
            write_torch_file(out, &SaveValue::Dict(all))?;
        }
        ExportFormat::Safetensors => {
            let named: Vec<(&str, &Tensor)> = backbone.iter().chain(head).map(|(k, t)| (k.as_str(), *t)).collect();
            let metadata = HashMap::from([
                ("lgd.layout".to_owned(), "torchvision".to_owned()),
                ("lgd.arch".to_owned(), arch.torchvision_name().to_owned()),
            ]);
            write_safetensors(out, &named, &metadata)?;
        }
        ExportFormat::Mmdet | ExportFormat::Mmseg => {
            // mmengine's loader takes `state_dict` and ignores the other entries: the head rides
            // beside it without touching the backbone's strict load.
            let mut root = BTreeMap::from([("state_dict".to_owned(), SaveValue::Dict(values(backbone)))]);
            if !head.is_empty() {
                let head =
                    head.iter().map(|(k, t)| (k[HEAD_PREFIX.len()..].to_owned(), SaveValue::Tensor(t))).collect();
                root.insert("lgd_head".to_owned(), SaveValue::Dict(head));
            }
            write_torch_file(out, &SaveValue::Dict(root))?;
        }
    }
    Ok(())
}

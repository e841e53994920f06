//! The student inside whatever `lgd export` is given: a run folder (its newest valid checkpoint),
//! an `lgd train` checkpoint (step file or `best.safetensors`: only the network is taken, never the
//! momentum buffers or the banks), or any weight file `lgd` reads (the original LGD's `.pth.tar`, a
//! torchvision state dict, an earlier export). The architecture comes from the checkpoint's config
//! where there is one, else from the tensors; either way every backbone tensor is checked against
//! the architecture's own variables, so an export never writes a file that will not load.

use std::collections::BTreeMap;
use std::path::Path;

use tch::nn::VarStore;
use tch::{Device, Tensor};

use super::ExportError;
use crate::checkpoint::{newest_valid, TrainingState};
use crate::config::Config;
use crate::models::student::{Student, StudentArch, StudentOptions};
use crate::tensor_io::read_safetensors;
use crate::weights::load_weights;

/// A student's network, split into the backbone (the product) and what replaced its classifier.
#[derive(Debug)]
pub struct StudentWeights {
    /// The architecture the tensors were checked against.
    pub arch: StudentArch,
    /// Backbone tensors under torchvision's names.
    pub backbone: BTreeMap<String, Tensor>,
    /// Tensors under the classifier's prefix (`fc.`/`classifier.`), keys without that prefix.
    pub head: BTreeMap<String, Tensor>,
    /// What was read, for the log: the file, and the step for a training checkpoint.
    pub origin: String,
}

impl StudentWeights {
    /// Whether the head is LGD's projection head (`0` and `2` linear layers) rather than a
    /// torchvision classifier carried along from another file.
    pub fn head_is_lgd(&self) -> bool {
        let mut keys: Vec<&str> = self.head.keys().map(String::as_str).collect();
        keys.sort_unstable();
        keys == ["0.bias", "0.weight", "2.bias", "2.weight"]
    }
}

/// Reads the student of `path` (a file, or a run folder).
pub fn read_student(path: &Path) -> Result<StudentWeights, ExportError> {
    if path.is_dir() {
        let (newest, skipped) = newest_valid(path);
        for broken in &skipped {
            tracing::warn!("skipped a newer checkpoint that does not verify: {broken}");
        }
        let Some((file, state)) = newest else {
            return Err(ExportError::NoCheckpoint { run_dir: path.into(), broken: skipped.len() });
        };
        return from_training_state(&file, state);
    }
    let is_checkpoint = path.extension().is_some_and(|e| e == "safetensors")
        && read_safetensors(path)?.metadata.get("lgd.kind").is_some_and(|kind| kind == "checkpoint");
    if is_checkpoint {
        let state = TrainingState::load(path)?;
        return from_training_state(path, state);
    }
    let (tensors, report) = load_weights(path)?;
    tracing::debug!(file = %path.display(), ?report, "read weights");
    let arch = infer_arch(&tensors, path)?;
    split_and_check(arch, tensors, path.display().to_string(), path)
}

fn from_training_state(path: &Path, state: TrainingState) -> Result<StudentWeights, ExportError> {
    let config = Config::parse(&state.config, path)
        .map_err(|error| ExportError::CheckpointConfig { path: path.into(), message: error.to_string() })?;
    let origin = format!("{} (lgd checkpoint, step {})", path.display(), state.step);
    split_and_check(config.student.arch, state.model, origin, path)
}

/// The architecture whose backbone variables the tensors match exactly; when none does, the error
/// of the closest one. Only the family the stem names is tried (ResNets have a top-level `conv1`,
/// the others a `features` stack): building a reference network is the slow part.
fn infer_arch(tensors: &BTreeMap<String, Tensor>, path: &Path) -> Result<StudentArch, ExportError> {
    let resnet_stem = tensors.contains_key("conv1.weight");
    let is_resnet = |arch: &StudentArch| arch.head_prefix() == "fc";
    let mut closest: Option<(usize, ExportError)> = None;
    for arch in StudentArch::ALL.into_iter().filter(|arch| is_resnet(arch) == resnet_stem) {
        match check_backbone(arch, &backbone_of(arch, tensors), path) {
            Ok(()) => return Ok(arch),
            Err((misfits, error)) => {
                if closest.as_ref().is_none_or(|(best, _)| misfits < *best) {
                    closest = Some((misfits, error));
                }
            }
        }
    }
    Err(closest.expect("StudentArch::ALL is not empty").1)
}

fn backbone_of(arch: StudentArch, tensors: &BTreeMap<String, Tensor>) -> BTreeMap<String, Tensor> {
    let head = format!("{}.", arch.head_prefix());
    tensors.iter().filter(|(k, _)| !k.starts_with(&head)).map(|(k, t)| (k.clone(), t.shallow_clone())).collect()
}

fn split_and_check(
    arch: StudentArch,
    tensors: BTreeMap<String, Tensor>,
    origin: String,
    path: &Path,
) -> Result<StudentWeights, ExportError> {
    let head_prefix = format!("{}.", arch.head_prefix());
    let (mut backbone, mut head) = (BTreeMap::new(), BTreeMap::new());
    for (key, tensor) in tensors {
        match key.strip_prefix(&head_prefix) {
            Some(rest) => head.insert(rest.to_owned(), tensor),
            None => backbone.insert(key, tensor),
        };
    }
    check_backbone(arch, &backbone, path).map_err(|(_, error)| error)?;
    Ok(StudentWeights { arch, backbone, head, origin })
}

/// Every variable of the architecture's backbone present with its shape, and nothing else; on a
/// misfit, how many tensors were wrong (to rank architectures) and the error naming the first.
fn check_backbone(
    arch: StudentArch,
    backbone: &BTreeMap<String, Tensor>,
    path: &Path,
) -> Result<(), (usize, ExportError)> {
    let expected = backbone_shapes(arch);
    let missing: Vec<&String> = expected.keys().filter(|k| !backbone.contains_key(*k)).collect();
    let unexpected: Vec<&String> = backbone.keys().filter(|k| !expected.contains_key(*k)).collect();
    let mis_shaped: Vec<(&String, Vec<i64>, &Vec<i64>)> = backbone
        .iter()
        .filter_map(|(k, t)| expected.get(k).filter(|shape| **shape != t.size()).map(|shape| (k, t.size(), shape)))
        .collect();
    let misfits = missing.len() + unexpected.len() + mis_shaped.len();
    let reason = if let Some(key) = unexpected.first() {
        format!("`{key}` is not a variable of torchvision's {}", arch.torchvision_name())
    } else if let Some((key, found, wanted)) = mis_shaped.first() {
        format!("`{key}` has shape {found:?}, torchvision's {} has {wanted:?}", arch.torchvision_name())
    } else if let Some(key) = missing.first() {
        format!("`{key}` of torchvision's {} is missing", arch.torchvision_name())
    } else {
        return Ok(());
    };
    let error = ExportError::DoesNotFit {
        path: path.into(),
        arch: arch.torchvision_name(),
        reason,
        counts: format!(
            "{} unexpected, {} mis-shaped, {} missing of its {} backbone tensors",
            unexpected.len(),
            mis_shaped.len(),
            missing.len(),
            expected.len()
        ),
    };
    Err((misfits, error))
}

/// Names and shapes of the architecture's backbone variables (its classifier/head excluded), from
/// the model itself: the same struct paths `lgd train` saves and torchvision loads.
fn backbone_shapes(arch: StudentArch) -> BTreeMap<String, Vec<i64>> {
    let vars = VarStore::new(Device::Cpu);
    let _student = tch::no_grad(|| Student::new(&vars.root(), arch, 1, StudentOptions::default()));
    let head = format!("{}.", arch.head_prefix());
    vars.variables().into_iter().filter(|(k, _)| !k.starts_with(&head)).map(|(k, t)| (k, t.size())).collect()
}

//! A CLIP checkpoint as named tensors, and the walk that hands them to the towers. Both file kinds
//! users bring are read: OpenAI's TorchScript archives (`RN50.pt`, weights partly float16) and
//! open_clip/OpenAI state dicts saved as safetensors. Every tensor is checked against the shape the
//! inferred architecture needs; all problems are gathered and reported together, so one run tells
//! the user everything that is wrong with a file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use tch::{Device, Kind, Tensor};

use crate::tensor_io::{read_safetensors, TensorIoError};
use crate::torch_ext::jit_named_tensors;
use crate::weights::{load_weights, WeightsError};

/// Entries of OpenAI's archives that are not weights of either tower (metadata, the contrastive
/// temperature, open_clip's causal mask buffer) and BatchNorm's step counters: accepted and ignored.
const IGNORED: &[&str] =
    &["input_resolution", "context_length", "vocab_size", "logit_scale", "logit_bias", "attn_mask"];
/// How many names of each problem kind an error lists.
const LISTED: usize = 5;

/// Why a CLIP checkpoint could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ClipLoadError {
    /// The safetensors file could not be read.
    #[error(transparent)]
    Safetensors(#[from] TensorIoError),
    /// A `torch.save` state dict could not be read.
    #[error(transparent)]
    StateDict(#[from] WeightsError),
    /// libtorch could not read the file as a TorchScript archive.
    #[error("{path}: not a readable TorchScript archive: {message}")]
    TorchScript {
        /// The file.
        path: PathBuf,
        /// libtorch's message.
        message: String,
    },
    /// A tensor the architecture is inferred from is absent or has an unexpected rank.
    #[error("{path}: cannot infer a CLIP architecture: {message}")]
    Architecture {
        /// The file.
        path: PathBuf,
        /// Which tensor, and what was expected of it.
        message: String,
    },
    /// Tensors missing, mis-shaped or not part of the inferred architecture.
    #[error("{path}: the tensors do not fit the CLIP architecture inferred from them:{}", describe(.missing, .misshaped, .unexpected))]
    Tensors {
        /// The file.
        path: PathBuf,
        /// Names the architecture needs that the file lacks.
        missing: Vec<String>,
        /// `name: expected [..], found [..]`.
        misshaped: Vec<String>,
        /// Names in the file that the architecture does not use.
        unexpected: Vec<String>,
    },
}

fn describe(missing: &[String], misshaped: &[String], unexpected: &[String]) -> String {
    let mut out = String::new();
    for (what, list) in [("missing", missing), ("mis-shaped", misshaped), ("unexpected", unexpected)] {
        if !list.is_empty() {
            let shown: Vec<&str> = list.iter().take(LISTED).map(String::as_str).collect();
            let more =
                if list.len() > LISTED { format!(", … ({} more)", list.len() - LISTED) } else { String::new() };
            out.push_str(&format!(" {} {what} ({}{more});", list.len(), shown.join(", ")));
        }
    }
    out.pop();
    out
}

/// A TorchScript archive is a zip holding compiled code (`<name>/constants.pkl`, `<name>/code/`);
/// a `torch.save` file is a zip holding only `data.pkl` and storages.
fn is_torchscript_archive(path: &Path) -> bool {
    let Ok(file) = std::fs::File::open(path) else { return false };
    let Ok(archive) = zip::ZipArchive::new(file) else { return false };
    let found = archive.file_names().any(|name| name.ends_with("constants.pkl"));
    found
}

/// The tensors of one checkpoint, handed out by name to the towers as they are built.
#[derive(Debug)]
pub struct Weights {
    path: PathBuf,
    tensors: BTreeMap<String, Tensor>,
    taken: BTreeSet<String>,
    missing: Vec<String>,
    misshaped: Vec<String>,
    kind: Kind,
    device: Device,
    /// Random weights: every tensor the walk asks for is drawn (see [`super::random`]), none missing.
    random: bool,
}

impl Weights {
    /// Reads OpenAI's TorchScript archives, `torch.save` state dicts (open_clip's `.pt`/`.bin`, zip or
    /// legacy) and safetensors files; floating-point tensors will be handed out as `kind` on
    /// `device` (OpenAI's float16 weights become the run's dtype).
    pub fn from_file(path: &Path, kind: Kind, device: Device) -> Result<Self, ClipLoadError> {
        let tensors: BTreeMap<String, Tensor> = if is_torchscript_archive(path) {
            jit_named_tensors(path)
                .map_err(|e| ClipLoadError::TorchScript { path: path.into(), message: e.to_string() })?
                .into_iter()
                .collect()
        } else if path.extension().is_some_and(|e| e == "safetensors") {
            read_safetensors(path)?.tensors
        } else {
            load_weights(path)?.0
        };
        Ok(Self::from_tensors(path, tensors, kind, device))
    }

    /// Wraps named tensors already in memory; `path` is only used in messages.
    pub fn from_tensors(path: &Path, tensors: BTreeMap<String, Tensor>, kind: Kind, device: Device) -> Self {
        Self {
            path: path.into(),
            tensors,
            taken: BTreeSet::new(),
            missing: vec![],
            misshaped: vec![],
            kind,
            device,
            random: false,
        }
    }

    /// No file: each tensor is drawn at random when the walk takes it, so the towers' own load
    /// code defines the shapes (benchmarks; tests that need a model without a checkpoint).
    pub fn random(kind: Kind, device: Device) -> Self {
        Self { random: true, ..Self::from_tensors(Path::new("(random weights)"), BTreeMap::new(), kind, device) }
    }

    /// The file the tensors came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The shape of a tensor, for inferring the architecture.
    pub fn shape(&self, name: &str) -> Option<Vec<i64>> {
        self.tensors.get(name).map(Tensor::size)
    }

    /// The shape of a tensor that must exist with `rank` dimensions, else an architecture error.
    pub fn require_shape(&self, name: &str, rank: usize) -> Result<Vec<i64>, ClipLoadError> {
        match self.shape(name) {
            Some(shape) if shape.len() == rank => Ok(shape),
            found => Err(ClipLoadError::Architecture {
                path: self.path.clone(),
                message: format!("`{name}` should be a {rank}-D tensor, found {found:?}"),
            }),
        }
    }

    /// Names starting with `prefix`.
    pub fn names_with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.tensors.keys().map(String::as_str).filter(move |k| k.starts_with(prefix))
    }

    /// Whether the file has a tensor of that name.
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// The tensor `name` of shape `shape`, converted to the run's dtype and device. A missing or
    /// mis-shaped tensor is recorded (see [`Weights::finish`]) and zeros stand in for it, so that
    /// the walk goes on and finds every other problem too.
    pub fn take(&mut self, name: &str, shape: &[i64]) -> Tensor {
        self.taken.insert(name.to_owned());
        match self.tensors.get(name) {
            None if self.random => return super::random::draw(name, shape, self.kind, self.device),
            None => self.missing.push(name.to_owned()),
            Some(t) if t.size() != shape => {
                self.misshaped.push(format!("{name}: expected {shape:?}, found {:?}", t.size()))
            }
            Some(t) => {
                let kind = if t.is_floating_point() { self.kind } else { t.kind() };
                return t.to_device(self.device).to_kind(kind).detach();
            }
        }
        Tensor::zeros(shape, (self.kind, self.device))
    }

    /// Ends the walk: an error listing missing, mis-shaped and unused tensors, if any.
    pub fn finish(self) -> Result<(), ClipLoadError> {
        let unexpected: Vec<String> = self
            .tensors
            .keys()
            .filter(|k| !self.taken.contains(*k))
            .filter(|k| !IGNORED.contains(&k.as_str()) && !k.ends_with(".num_batches_tracked"))
            .cloned()
            .collect();
        if self.missing.is_empty() && self.misshaped.is_empty() && unexpected.is_empty() {
            return Ok(());
        }
        Err(ClipLoadError::Tensors { path: self.path, missing: self.missing, misshaped: self.misshaped, unexpected })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_gathered_and_listed() {
        let tensors = BTreeMap::from([
            ("a".to_owned(), Tensor::zeros([2, 3], (Kind::Half, Device::Cpu))),
            ("b".to_owned(), Tensor::zeros([4], (Kind::Float, Device::Cpu))),
            ("extra".to_owned(), Tensor::zeros([1], (Kind::Float, Device::Cpu))),
            ("logit_scale".to_owned(), Tensor::zeros([], (Kind::Float, Device::Cpu))),
        ]);
        let mut w = Weights::from_tensors(Path::new("m.pt"), tensors, Kind::Float, Device::Cpu);
        assert_eq!(w.take("a", &[2, 3]).kind(), Kind::Float);
        assert_eq!(w.take("b", &[5]).size(), vec![5]);
        let _ = w.take("c", &[1]);
        let err = w.finish().unwrap_err().to_string();
        assert_eq!(
            err,
            "m.pt: the tensors do not fit the CLIP architecture inferred from them: 1 missing (c); \
             1 mis-shaped (b: expected [5], found [4]); 1 unexpected (extra)"
        );
    }
}

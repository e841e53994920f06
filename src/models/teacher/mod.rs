//! Frozen teachers behind one interface: embed a batch, give the class bank. The CLIP teacher is
//! the image tower with T from prompts; the supervised teacher is an ImageNet classifier whose pooled
//! features are the embedding t and whose L2-normalised classifier rows are the class bank —
//! "supervised-teacher mode", which runs LGD end to end on real pretrained weights without CLIP.

mod clip_teacher;
pub mod efficientnet_lite;

pub use clip_teacher::ClipTeacher;

/// What training needs of a teacher. Implementations are frozen: inference-mode normalisation, no
/// gradients; they run under autocast and accept channels_last inputs.
pub trait Teacher: Send {
    /// L2-normalised embeddings t `[B, D]` of images normalised with [`Teacher::normalisation`].
    fn embed(&self, images: &Tensor) -> Tensor;
    /// The class bank T `[D, C]`.
    fn bank(&self) -> &TextBank;
    /// D.
    fn embed_dim(&self) -> i64 {
        self.bank().dim()
    }
    /// Per-channel (mean, std) the teacher's inputs are normalised with.
    fn normalisation(&self) -> ([f64; 3], [f64; 3]);
}

use std::path::Path;

use tch::nn::VarStore;
use tch::{Device, Tensor};

use crate::models::state_dict::{load_state_dict, StateDictError};
use crate::objective::{normalize_rows, BankError, TextBank};
use crate::weights::{load_weights, WeightsError};
use efficientnet_lite::EfficientNetLite0;

/// ImageNet normalisation, which the EfficientNet-Lite0 weights' reference implementation documents.
pub const IMAGENET_MEAN: [f64; 3] = [0.485, 0.456, 0.406];
/// See [`IMAGENET_MEAN`].
pub const IMAGENET_STD: [f64; 3] = [0.229, 0.224, 0.225];

/// Why a teacher could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TeacherError {
    /// The weight file could not be read.
    #[error(transparent)]
    Weights(#[from] WeightsError),
    /// The weights do not fit the architecture.
    #[error(transparent)]
    Mismatch(#[from] StateDictError),
    /// The class bank could not be built.
    #[error(transparent)]
    Bank(#[from] BankError),
}

/// EfficientNet-Lite0 with ImageNet weights, frozen (no gradients, inference-mode BN).
#[derive(Debug)]
pub struct SupervisedTeacher {
    vars: VarStore,
    net: EfficientNetLite0,
    bank: TextBank,
}

impl SupervisedTeacher {
    /// Loads the weights file (e.g. `efficientnet-lite0-57934424.pth`) onto `device`.
    pub fn load(path: &Path, device: Device) -> Result<Self, TeacherError> {
        let (tensors, _) = load_weights(path)?;
        let classes = tensors.get("_fc.bias").map(|b| b.size()[0]).unwrap_or(1000);
        let mut vars = VarStore::new(device);
        let net = EfficientNetLite0::new(&vars.root(), classes);
        load_state_dict(&vars, &tensors, &path.display().to_string(), "efficientnet-lite0", |_| false)?;
        vars.freeze();
        let rows = tch::no_grad(|| normalize_rows(&net.classifier_weight().detach()));
        let bank = TextBank::new(rows.tr().contiguous())?;
        Ok(Self { vars, net, bank })
    }

    /// Replaces the bank with one column per target category: the L2-normalised mean of the
    /// normalised classifier rows of the category's `groups` (see `lgd_datasets::guidance`).
    pub fn guide(mut self, groups: &[Vec<usize>]) -> Result<Self, TeacherError> {
        let rows = self.bank.tensor().tr(); // [classes, D], rows normalised
        self.bank = TextBank::new(guided_columns(&rows, groups))?;
        Ok(self)
    }

    /// ImageNet logits `[B, 1000]`.
    pub fn logits(&self, images: &Tensor) -> Tensor {
        tch::no_grad(|| self.net.logits(images))
    }

    /// Pooled backbone features `[B, 1280]`, not normalised (what a linear probe of the teacher sees).
    pub fn pooled_features(&self, images: &Tensor) -> Tensor {
        tch::no_grad(|| self.net.features(images))
    }

    /// The device the weights live on.
    pub fn device(&self) -> Device {
        self.vars.device()
    }

    /// The variables, e.g. for [`crate::torch_ext::module_to_channels_last`].
    pub fn vars(&self) -> &VarStore {
        &self.vars
    }
}

/// `[D, groups]`: column g = normalise(mean of `rows[i]` for i in `groups[g]`).
pub fn guided_columns(rows: &Tensor, groups: &[Vec<usize>]) -> Tensor {
    let columns: Vec<Tensor> = groups
        .iter()
        .map(|group| {
            let index =
                Tensor::from_slice(&group.iter().map(|&i| i as i64).collect::<Vec<_>>()).to_device(rows.device());
            rows.index_select(0, &index).mean_dim(0, false, rows.kind())
        })
        .collect();
    normalize_rows(&Tensor::stack(&columns, 0)).tr().contiguous()
}

impl Teacher for SupervisedTeacher {
    /// Pooled features `[B, 1280]`, L2-normalised.
    fn embed(&self, images: &Tensor) -> Tensor {
        tch::no_grad(|| normalize_rows(&self.net.features(images)))
    }

    /// The classifier rows, L2-normalised: `[1280, 1000]`, one column per ImageNet class.
    fn bank(&self) -> &TextBank {
        &self.bank
    }

    fn normalisation(&self) -> ([f64; 3], [f64; 3]) {
        (IMAGENET_MEAN, IMAGENET_STD)
    }
}

#[cfg(test)]
mod tests {
    use tch::{Device, Kind, Tensor};

    use super::guided_columns;

    #[test]
    fn guided_column_is_the_normalised_mean_of_its_rows() {
        let rows = Tensor::from_slice(&[1.0f32, 0.0, 0.0, 1.0, 0.6, 0.8]).reshape([3, 2]);
        let columns = guided_columns(&rows, &[vec![0, 1], vec![2]]);
        let half = std::f32::consts::FRAC_1_SQRT_2;
        let expected = Tensor::from_slice(&[half, 0.6, half, 0.8]).reshape([2, 2]);
        let error = (&columns - &expected).abs().max().double_value(&[]);
        assert!(error < 1e-7, "{columns} vs {expected}");
        assert_eq!(columns.kind(), Kind::Float);
        assert_eq!(columns.device(), Device::Cpu);
    }
}

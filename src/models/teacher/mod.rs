//! Frozen teachers. The supervised teacher is an ImageNet classifier: its pooled features are the
//! embedding t and its L2-normalised classifier rows are the class bank — "supervised-teacher mode",
//! which runs LGD end to end on real pretrained weights without CLIP.

pub mod efficientnet_lite;

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
        Ok(Self { vars, net })
    }

    /// The embedding t: pooled features `[B, 1280]`, L2-normalised, of ImageNet-normalised images.
    pub fn embed(&self, images: &Tensor) -> Tensor {
        tch::no_grad(|| normalize_rows(&self.net.features(images)))
    }

    /// ImageNet logits `[B, 1000]`.
    pub fn logits(&self, images: &Tensor) -> Tensor {
        tch::no_grad(|| self.net.logits(images))
    }

    /// The class bank `[1280, 1000]`: the classifier rows, L2-normalised, one column per class.
    pub fn class_bank(&self) -> Result<TextBank, BankError> {
        let rows = tch::no_grad(|| normalize_rows(&self.net.classifier_weight().detach()));
        TextBank::new(rows.tr().contiguous())
    }

    /// The device the weights live on.
    pub fn device(&self) -> Device {
        self.vars.device()
    }
}

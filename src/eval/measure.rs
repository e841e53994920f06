//! `lgd eval …`: the paper's measurements of a student from a checkpoint (or at random
//! initialisation, as a baseline) on a dataset folder with `train/` and `val/` splits.

use std::path::{Path, PathBuf};

use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::knn::knn_scores;
use super::metrics::top1_top5;
use super::{EvalError, ValidationSet};
use crate::checkpoint::TrainingState;
use crate::config::Config;
use crate::models::state_dict::load_state_dict;
use crate::models::student::{Student, StudentArch, StudentOptions};
use crate::models::teacher::{SupervisedTeacher, Teacher};
use crate::objective::{normalize_rows, TextBank};

/// Which student to evaluate.
#[derive(Debug, Clone)]
pub enum StudentSource {
    /// An `lgd train` checkpoint (architecture and width from its config and tensors).
    Checkpoint(PathBuf),
    /// A freshly initialised network (the "what did distillation buy" baseline).
    RandomInit {
        /// Architecture.
        arch: StudentArch,
        /// Head output width.
        embed_dim: i64,
        /// Initialisation seed.
        seed: i64,
    },
}

/// The student, ready for inference.
pub struct LoadedStudent {
    /// Its variables.
    pub vars: VarStore,
    /// The network.
    pub student: Student,
}

/// Loads the student described by `source` onto `device`.
pub fn load_student(source: &StudentSource, device: Device) -> Result<LoadedStudent, EvalError> {
    match source {
        StudentSource::RandomInit { arch, embed_dim, seed } => {
            tch::manual_seed(*seed);
            let vars = VarStore::new(device);
            let student = Student::new(&vars.root(), *arch, *embed_dim, StudentOptions::default());
            Ok(LoadedStudent { vars, student })
        }
        StudentSource::Checkpoint(path) => {
            let state = TrainingState::load(path)?;
            let config = Config::parse(&state.config, path)
                .map_err(|source| EvalError::CheckpointConfig { path: path.clone(), source: Box::new(source) })?;
            let arch = config.student.arch;
            let head = format!("{}.2.weight", arch.head_prefix());
            let embed_dim = state
                .model
                .get(&head)
                .map(|w| w.size()[0])
                .ok_or_else(|| EvalError::NoHead { path: path.clone(), key: head.clone() })?;
            let vars = VarStore::new(device);
            let student = Student::new(&vars.root(), arch, embed_dim, StudentOptions::default());
            load_state_dict(&vars, &state.model, &path.display().to_string(), arch.torchvision_name(), |_| false)?;
            Ok(LoadedStudent { vars, student })
        }
    }
}

/// Whose features a probe or k-NN measures.
pub enum Backbone<'a> {
    /// The student's pooled backbone features (the MLP head dropped, as the protocol says).
    Student(&'a Student),
    /// The supervised teacher's pooled features.
    Teacher(&'a SupervisedTeacher),
    /// The normalised pixels themselves, flattened: the floor any learnt feature should beat.
    Pixels,
}

impl Backbone<'_> {
    /// Features `[B, F]` of a batch of normalised images, without gradients.
    pub fn features(&self, images: &Tensor) -> Tensor {
        tch::no_grad(|| match self {
            Backbone::Student(student) => student.features(images, false),
            Backbone::Teacher(teacher) => teacher.pooled_features(images),
            Backbone::Pixels => images.flatten(1, -1),
        })
        .to_kind(Kind::Float)
    }

    /// Features `[N, F]` (fp32) and labels `[N]` of a set, in eval mode.
    pub fn extract(&self, set: &ValidationSet, device: Device, mut progress: impl FnMut(usize)) -> (Tensor, Tensor) {
        let (mut features, mut labels) = (Vec::new(), Vec::new());
        let pass = set.pass(|images, batch_labels| {
            features.push(self.features(&images.to_device(device)));
            labels.push(batch_labels.to_device(device));
            progress(batch_labels.size()[0] as usize);
            true
        });
        progress(pass.skipped.len()); // the bar counts files, read or not
        (Tensor::cat(&features, 0), Tensor::cat(&labels, 0))
    }
}

/// The student's L2-normalised embeddings `[N, D]` and labels `[N]`, in eval mode.
pub fn embed(student: &Student, set: &ValidationSet, device: Device) -> (Tensor, Tensor) {
    let (features, labels) = Backbone::Student(student).extract(set, device, |_| {});
    (tch::no_grad(|| normalize_rows(&student.head_forward(&features))), labels)
}

/// The teacher's L2-normalised embeddings `[N, D]` of a set.
pub fn teacher_embed(teacher: &impl Teacher, set: &ValidationSet, device: Device) -> Tensor {
    let mut embeddings = Vec::new();
    tch::no_grad(|| {
        set.pass(|images, _| {
            embeddings.push(teacher.embed(&images.to_device(device)));
            true
        })
    });
    Tensor::cat(&embeddings, 0)
}

/// k-NN top-1/top-5 (k = 20, τ = 0.07) of val features against train features.
pub fn knn(train: (&Tensor, &Tensor), val: (&Tensor, &Tensor), classes: i64) -> (f64, f64) {
    top1_top5(&knn_scores(train.0, train.1, val.0, classes, 20, 0.07), val.1)
}

/// Zero-shot logits 100·s·T `[N, C]` and the labels.
pub fn zero_shot_logits(
    student: &Student,
    val: &ValidationSet,
    bank: &TextBank,
    device: Device,
) -> Result<(Tensor, Tensor), EvalError> {
    let (embeddings, labels) = embed(student, val, device);
    let width = embeddings.size()[1];
    if width != bank.dim() {
        return Err(EvalError::Width { student: width, against: "the text bank", other: bank.dim() });
    }
    Ok((embeddings.matmul(bank.to_device(device).tensor()) * 100.0, labels))
}

/// How closely a student follows its teacher over the teacher's bank.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct AgreementReport {
    /// Fraction of images where the argmax over the bank is the same.
    pub top1_agreement: f64,
    /// Mean KL(teacher ‖ student) between the bank distributions softmax(100·x·T).
    pub mean_kl: f64,
    /// Zero-shot top-1 of the student, when the bank's columns are the dataset's classes.
    pub student_top1: Option<f64>,
    /// The teacher's, likewise.
    pub teacher_top1: Option<f64>,
    /// Images compared.
    pub images: usize,
}

/// Teacher agreement (argmax over the teacher's bank), the mean KL, and zero-shot top-1 of both
/// when the bank has one column per class of `val`.
pub fn agreement(
    student: &Student,
    teacher: &SupervisedTeacher,
    val: &ValidationSet,
    device: Device,
) -> Result<AgreementReport, EvalError> {
    let bank = teacher.bank().tensor();
    let (embeddings, labels) = embed(student, val, device);
    if embeddings.size()[1] != teacher.embed_dim() {
        return Err(EvalError::Width {
            student: embeddings.size()[1],
            against: "the teacher",
            other: teacher.embed_dim(),
        });
    }
    let teacher_embeddings = teacher_embed(teacher, val, device);
    let student_logits = embeddings.matmul(bank) * 100.0;
    let teacher_logits = teacher_embeddings.matmul(bank) * 100.0;
    let agree = student_logits.argmax(1, false).eq_tensor(&teacher_logits.argmax(1, false));
    let p = teacher_logits.log_softmax(1, Kind::Float);
    let q = student_logits.log_softmax(1, Kind::Float);
    let kl = (p.exp() * (&p - &q)).sum_dim_intlist(1, false, Kind::Float).mean(Kind::Float);
    let zero_shot = (teacher.bank().classes() == val.classes() as i64)
        .then(|| (top1_top5(&student_logits, &labels).0, top1_top5(&teacher_logits, &labels).0));
    Ok(AgreementReport {
        top1_agreement: agree.to_kind(Kind::Float).mean(Kind::Float).double_value(&[]),
        mean_kl: kl.double_value(&[]),
        student_top1: zero_shot.map(|z| z.0),
        teacher_top1: zero_shot.map(|z| z.1),
        images: labels.size()[0] as usize,
    })
}

/// `DIR/train` and `DIR/val`, or an error naming what is missing.
pub fn splits(data: &Path) -> Result<(PathBuf, PathBuf), EvalError> {
    let (train, val) = (data.join("train"), data.join("val"));
    for (split, name) in [(&train, "train"), (&val, "val")] {
        if !split.is_dir() {
            return Err(EvalError::MissingSplit { data: data.to_owned(), split: name });
        }
    }
    Ok((train, val))
}

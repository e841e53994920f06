//! The teacher a config asks for, loaded and paired with its bank.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tch::{Device, Tensor};

use super::startup_phase::{StartupPhase, StartupSteps};
use super::{DaemonError, StartupError};
use crate::config::{Config, TeacherKind, TextBankSource};
use crate::models::clip::prompt_bank::{cache_key, cached_bank, compute_text_bank, save_with_key};
use crate::models::clip::{Clip, ClipTokenizer, LoadOptions};
use crate::models::teacher::{ClipTeacher, SupervisedTeacher, Teacher};
use crate::objective::TextBank;
use lgd_datasets::classnames::{ClassNames, Templates};
use lgd_datasets::guidance::Guidance;

/// Why the configured teacher could not be loaded; each names the field at fault.
#[derive(Debug, thiserror::Error)]
pub enum TeacherError {
    /// `teacher.weights` names no file.
    #[error("teacher.weights: {} does not exist", .0.display())]
    Missing(PathBuf),
    /// A field's file or list could not be read (`teacher.weights`, `banks.classnames`, …).
    #[error("{field}: {source}")]
    Field {
        /// The field.
        field: &'static str,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The text bank could not be loaded, computed, cached or paired with the teacher.
    #[error("{0}")]
    Bank(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// `banks.classnames` does not match the supervised teacher's classes.
    #[error("banks.classnames: {names} names, but the teacher has {classes} classes")]
    ClassCount {
        /// Names in the list.
        names: usize,
        /// The teacher's classes.
        classes: i64,
    },
    /// `banks.text` names a file for a supervised teacher.
    #[error("banks.text: a supervised teacher uses its classifier bank, not {}", .0.display())]
    BankFileForSupervised(PathBuf),
    /// `banks.text = "teacher_classifier"` with CLIP.
    #[error("banks.text: `teacher_classifier` needs a supervised teacher")]
    ClassifierBankForClip,
    /// `teacher.embed_dim` disagrees with the weights.
    #[error("teacher.embed_dim = {dim}, but {} embeds to {actual}", weights.display())]
    EmbedDim {
        /// The configured width.
        dim: i64,
        /// The weights.
        weights: PathBuf,
        /// Their width.
        actual: i64,
    },
    /// Start-up stopped at a safe point inside the load (never shown: the stop is returned).
    #[error("stopped at a safe point")]
    Stopped,
}

impl TeacherError {
    /// `field`'s error.
    fn field<E: std::error::Error + Send + Sync + 'static>(field: &'static str) -> impl FnOnce(E) -> Self {
        move |source| Self::Field { field, source: Box::new(source) }
    }

    /// The text bank's error.
    fn bank<E: std::error::Error + Send + Sync + 'static>(source: E) -> Self {
        Self::Bank(Box::new(source))
    }
}

/// Either teacher, frozen and shared: the training step and the device stage (another thread)
/// hold the same weights; cloning shares them.
#[derive(Debug, Clone)]
pub struct AnyTeacher(Arc<Frozen>);

#[derive(Debug)]
enum Frozen {
    /// EfficientNet-Lite0 with its classifier bank.
    Supervised(SupervisedTeacher),
    /// CLIP with a prompt bank.
    Clip(ClipTeacher),
}

// SAFETY: `tch::Tensor` is not `Sync` because some of its `&self` methods write (gradients,
// in-place ops reached through shared references). A `Frozen` teacher is never written after it is
// loaded — nothing hands out `&mut` to it once it is in the `Arc`, and `embed` runs under
// `no_grad` — and libtorch's kernels that only read their inputs may run on several threads at
// once, as PyTorch's multi-threaded inference does with one module.
unsafe impl Sync for Frozen {}

impl AnyTeacher {
    fn frozen(&self) -> &Frozen {
        &self.0
    }
}

impl Teacher for AnyTeacher {
    fn embed(&self, images: &Tensor) -> Tensor {
        match self.frozen() {
            Frozen::Supervised(t) => t.embed(images),
            Frozen::Clip(t) => t.embed(images),
        }
    }
    fn bank(&self) -> &TextBank {
        match self.frozen() {
            Frozen::Supervised(t) => t.bank(),
            Frozen::Clip(t) => t.bank(),
        }
    }
    fn normalisation(&self) -> ([f64; 3], [f64; 3]) {
        match self.frozen() {
            Frozen::Supervised(t) => t.normalisation(),
            Frozen::Clip(t) => t.normalisation(),
        }
    }
}

/// The supervised teacher with one bank column per target category of `guidance` (class names of
/// the teacher from `classnames`); unchanged when `guidance` is empty.
pub fn guide_teacher(
    teacher: SupervisedTeacher,
    classnames: &str,
    guidance: &str,
) -> Result<SupervisedTeacher, TeacherError> {
    if guidance.is_empty() {
        return Ok(teacher);
    }
    let names = ClassNames::resolve(classnames).map_err(TeacherError::field("banks.classnames"))?;
    if names.len() as i64 != teacher.bank().classes() {
        return Err(TeacherError::ClassCount { names: names.len(), classes: teacher.bank().classes() });
    }
    let guidance = Guidance::resolve(guidance).map_err(TeacherError::field("banks.guidance"))?;
    let groups = guidance.indices(&names).map_err(TeacherError::field("banks.guidance"))?;
    tracing::info!(categories = ?guidance.categories(), "text bank: teacher classifier rows guided by the category names");
    teacher.guide(&groups).map_err(TeacherError::bank)
}

/// Loads the configured teacher; a CLIP bank computed from prompts is cached in the run folder.
/// Start-up stops at the safe points of `steps` inside it: once the weights are read, and between
/// batches of prompts.
pub(super) fn load_teacher(
    config: &Config,
    run_dir: &Path,
    device: Device,
    steps: &StartupSteps,
) -> Result<AnyTeacher, DaemonError> {
    let mut stopped = None;
    let loaded = load(config, run_dir, device, steps, &mut stopped).map_err(|e| StartupError::Teacher(e).into());
    match stopped {
        Some(stop) => Err(stop),
        None => loaded,
    }
}

/// A safe point's verdict as control flow; a stop is kept in `stopped`.
fn go_on(safe_point: Result<(), DaemonError>, stopped: &mut Option<DaemonError>) -> ControlFlow<()> {
    match safe_point {
        Ok(()) => ControlFlow::Continue(()),
        Err(stop) => {
            *stopped = Some(stop);
            ControlFlow::Break(())
        }
    }
}

/// The loading itself; a stop at a safe point is left in `stopped` (and the load ends early).
fn load(
    config: &Config,
    run_dir: &Path,
    device: Device,
    steps: &StartupSteps,
    stopped: &mut Option<DaemonError>,
) -> Result<AnyTeacher, TeacherError> {
    let weights = &config.teacher.weights;
    if !weights.exists() {
        return Err(TeacherError::Missing(weights.clone()));
    }
    let teacher = match config.teacher.kind {
        TeacherKind::Supervised => {
            let teacher = SupervisedTeacher::load(weights, device).map_err(TeacherError::field("teacher.weights"))?;
            if go_on(steps.safe_point(StartupPhase::LoadingTeacher), stopped).is_break() {
                return Err(TeacherError::Stopped);
            }
            if let TextBankSource::File(path) = &config.banks.text {
                return Err(TeacherError::BankFileForSupervised(path.clone()));
            }
            Frozen::Supervised(guide_teacher(teacher, &config.banks.classnames, &config.banks.guidance)?)
        }
        TeacherKind::Clip => {
            // The lists first: a typo in their paths fails before the weights load.
            let names =
                ClassNames::resolve(&config.banks.classnames).map_err(TeacherError::field("banks.classnames"))?;
            let templates = match config.banks.text {
                TextBankSource::Prompts => {
                    Some(Templates::resolve(&config.banks.templates).map_err(TeacherError::field("banks.templates"))?)
                }
                _ => None,
            };
            let clip = Clip::load(weights, LoadOptions { device, ..Default::default() })
                .map_err(TeacherError::field("teacher.weights"))?;
            if go_on(steps.safe_point(StartupPhase::LoadingTeacher), stopped).is_break() {
                return Err(TeacherError::Stopped);
            }
            let bank = match &config.banks.text {
                TextBankSource::File(path) => TextBank::load(path, Some(names.len())).map_err(TeacherError::bank)?,
                TextBankSource::Prompts => {
                    let templates = templates.expect("resolved above for prompts");
                    let key = cache_key(weights, &names, &templates).map_err(TeacherError::bank)?;
                    let cache = run_dir.join("text_bank.safetensors");
                    match cached_bank(&cache, &key, names.len()) {
                        Some(bank) => bank,
                        None => {
                            if go_on(steps.enter(StartupPhase::ComputingTextBank), stopped).is_break() {
                                return Err(TeacherError::Stopped);
                            }
                            tracing::info!(classes = names.len(), "computing the text bank from prompts");
                            let tokenizer = ClipTokenizer::load(None).map_err(TeacherError::bank)?;
                            let bank = compute_text_bank(&clip, &tokenizer, &names, &templates, 256, |_, _| {
                                go_on(steps.safe_point(StartupPhase::ComputingTextBank), stopped)
                            })
                            .map_err(TeacherError::bank)?;
                            save_with_key(&bank, &cache, &key).map_err(TeacherError::bank)?;
                            bank
                        }
                    }
                }
                TextBankSource::TeacherClassifier => return Err(TeacherError::ClassifierBankForClip),
            };
            Frozen::Clip(ClipTeacher::new(clip, bank.to_device(device)).map_err(TeacherError::bank)?)
        }
    };
    let teacher = AnyTeacher(Arc::new(teacher));
    if let Some(dim) = config.teacher.embed_dim {
        if dim != teacher.embed_dim() {
            return Err(TeacherError::EmbedDim { dim, weights: weights.clone(), actual: teacher.embed_dim() });
        }
    }
    Ok(teacher)
}

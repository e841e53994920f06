//! The teacher a config asks for, loaded and paired with its bank.

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;

use tch::{Device, Tensor};

use super::startup_phase::{StartupPhase, StartupSteps};
use super::DaemonError;
use crate::config::{Config, TeacherKind, TextBankSource};
use crate::models::clip::prompt_bank::{cache_key, cached_bank, compute_text_bank, save_with_key};
use crate::models::clip::{Clip, ClipTokenizer, LoadOptions};
use crate::models::teacher::{ClipTeacher, SupervisedTeacher, Teacher};
use crate::objective::TextBank;
use lgd_datasets::classnames::{ClassNames, Templates};
use lgd_datasets::guidance::Guidance;

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
) -> Result<SupervisedTeacher, String> {
    if guidance.is_empty() {
        return Ok(teacher);
    }
    let names = ClassNames::resolve(classnames).map_err(|e| format!("banks.classnames: {e}"))?;
    if names.len() as i64 != teacher.bank().classes() {
        return Err(format!(
            "banks.classnames: {} names, but the teacher has {} classes",
            names.len(),
            teacher.bank().classes()
        ));
    }
    let guidance = Guidance::resolve(guidance).map_err(|e| format!("banks.guidance: {e}"))?;
    let groups = guidance.indices(&names).map_err(|e| format!("banks.guidance: {e}"))?;
    tracing::info!(categories = ?guidance.categories(), "text bank: teacher classifier rows guided by the category names");
    teacher.guide(&groups).map_err(|e| e.to_string())
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
    let loaded = load(config, run_dir, device, steps, &mut stopped).map_err(DaemonError::Startup);
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
) -> Result<AnyTeacher, String> {
    let weights = &config.teacher.weights;
    if !weights.exists() {
        return Err(format!("teacher.weights: {} does not exist", weights.display()));
    }
    let stopped_early = "stopped at a safe point"; // never shown: `load_teacher` returns the stop
    let teacher = match config.teacher.kind {
        TeacherKind::Supervised => {
            let teacher = SupervisedTeacher::load(weights, device).map_err(|e| format!("teacher.weights: {e}"))?;
            if go_on(steps.safe_point(StartupPhase::LoadingTeacher), stopped).is_break() {
                return Err(stopped_early.into());
            }
            if let TextBankSource::File(path) = &config.banks.text {
                return Err(format!(
                    "banks.text: a supervised teacher uses its classifier bank, not {}",
                    path.display()
                ));
            }
            Frozen::Supervised(guide_teacher(teacher, &config.banks.classnames, &config.banks.guidance)?)
        }
        TeacherKind::Clip => {
            // The lists first: a typo in their paths fails before the weights load.
            let names = ClassNames::resolve(&config.banks.classnames).map_err(|e| format!("banks.classnames: {e}"))?;
            let templates = match config.banks.text {
                TextBankSource::Prompts => {
                    Some(Templates::resolve(&config.banks.templates).map_err(|e| format!("banks.templates: {e}"))?)
                }
                _ => None,
            };
            let clip = Clip::load(weights, LoadOptions { device, ..Default::default() })
                .map_err(|e| format!("teacher.weights: {e}"))?;
            if go_on(steps.safe_point(StartupPhase::LoadingTeacher), stopped).is_break() {
                return Err(stopped_early.into());
            }
            let bank = match &config.banks.text {
                TextBankSource::File(path) => TextBank::load(path, Some(names.len())).map_err(|e| e.to_string())?,
                TextBankSource::Prompts => {
                    let templates = templates.expect("resolved above for prompts");
                    let key = cache_key(weights, &names, &templates).map_err(|e| e.to_string())?;
                    let cache = run_dir.join("text_bank.safetensors");
                    match cached_bank(&cache, &key, names.len()) {
                        Some(bank) => bank,
                        None => {
                            if go_on(steps.enter(StartupPhase::ComputingTextBank), stopped).is_break() {
                                return Err(stopped_early.into());
                            }
                            tracing::info!(classes = names.len(), "computing the text bank from prompts");
                            let tokenizer = ClipTokenizer::load(None).map_err(|e| e.to_string())?;
                            let bank = compute_text_bank(&clip, &tokenizer, &names, &templates, 256, |_, _| {
                                go_on(steps.safe_point(StartupPhase::ComputingTextBank), stopped)
                            })
                            .map_err(|e| e.to_string())?;
                            save_with_key(&bank, &cache, &key).map_err(|e| e.to_string())?;
                            bank
                        }
                    }
                }
                TextBankSource::TeacherClassifier => {
                    return Err("banks.text: `teacher_classifier` needs a supervised teacher".into())
                }
            };
            Frozen::Clip(ClipTeacher::new(clip, bank.to_device(device)).map_err(|e| e.to_string())?)
        }
    };
    let teacher = AnyTeacher(Arc::new(teacher));
    if let Some(dim) = config.teacher.embed_dim {
        if dim != teacher.embed_dim() {
            return Err(format!(
                "teacher.embed_dim = {dim}, but {} embeds to {}",
                weights.display(),
                teacher.embed_dim()
            ));
        }
    }
    Ok(teacher)
}

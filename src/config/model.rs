//! `[student]`, `[teacher]`, `[banks]` and `[loss]`: what is distilled into what, and how.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::problems::Problems;
use super::value_error::ValueError;
pub use crate::models::student::StudentArch;

/// `[student]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudentSection {
    /// The backbone; its classifier is replaced by the LGD head Linear(F,F) → ReLU → Linear(F,D).
    pub arch: StudentArch,
    /// Optional starting weights (a checkpoint or torchvision-style state dict).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<PathBuf>,
    /// What the student's batch-norm layers normalise with while training.
    #[serde(default)]
    pub batch_norm: BatchNormMode,
}

/// Batch statistics (the published recipe) or frozen running statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchNormMode {
    /// Each batch's own statistics; running statistics updated (training mode).
    #[default]
    Batch,
    /// The running statistics, never updated: the student's forward runs in inference mode (which
    /// also turns EfficientNet's stochastic depth off). Then replicas with batch b compute exactly
    /// what one process with batch world·b does, since no statistic depends on the split.
    Frozen,
}

/// Which kind of frozen teacher provides t.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TeacherKind {
    /// A CLIP image tower (OpenAI TorchScript archive or open_clip state dict).
    Clip,
    /// A supervised ImageNet classifier: pooled features as t, classifier rows as the text bank.
    Supervised,
}

/// `[teacher]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeacherSection {
    /// CLIP or supervised.
    pub kind: TeacherKind,
    /// The weights file, loaded unchanged.
    pub weights: PathBuf,
    /// D, the embedding width; inferred from the weights when absent, checked when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embed_dim: Option<i64>,
    /// Teacher-output cache: V > 0 stores the teacher's embedding of V views per image (fp16, a
    /// mapped file in the run folder) and replays them: epoch e shows the views of epoch e mod V
    /// and runs the teacher only while those are not stored yet. 0: off (every view is new).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache_views: u32,
    /// On a GPU, the device stage (uploads, the photometric half, the teacher) queues its work on
    /// a CUDA stream of its own, so the teacher of batch k+1 can run beside the student step of
    /// batch k instead of behind it on the shared default stream. No effect on the CPU.
    #[serde(default, skip_serializing_if = "is_false")]
    pub own_stream: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// Where the text bank T comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum TextBankSource {
    /// Computed at start from the class names and templates with the teacher's text tower, cached.
    Prompts,
    /// The supervised teacher's L2-normalised classifier rows.
    TeacherClassifier,
    /// A bank file written by `lgd bank`.
    File(PathBuf),
}

impl TryFrom<String> for TextBankSource {
    type Error = ValueError;
    fn try_from(text: String) -> Result<Self, ValueError> {
        Ok(match text.as_str() {
            "prompts" => Self::Prompts,
            "teacher_classifier" => Self::TeacherClassifier,
            "" => return Err(ValueError::EmptyTextBank),
            _ => Self::File(PathBuf::from(text)),
        })
    }
}

impl From<TextBankSource> for String {
    fn from(source: TextBankSource) -> String {
        match source {
            TextBankSource::Prompts => "prompts".into(),
            TextBankSource::TeacherClassifier => "teacher_classifier".into(),
            TextBankSource::File(path) => path.display().to_string(),
        }
    }
}

/// `[banks]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BanksSection {
    /// T's source.
    pub text: TextBankSource,
    /// Category names: a built-in list (`imagenet`, `caltech256`, …) or a file, one per line.
    pub classnames: String,
    /// Prompt templates: built-in `openai_imagenet` or a file, one per line with `{}`.
    pub templates: String,
    /// m, the momentum of the visual bank's update (0.999).
    pub visual_momentum: f64,
    /// With `text = "teacher_classifier"`: a guidance list (built-in `fashion_mnist_imagenet` or a
    /// file) giving one bank column per target category from the teacher classes that stand in
    /// for its name; the teacher's class names are `banks.classnames`. Empty: every classifier row.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub guidance: String,
}

impl Default for BanksSection {
    fn default() -> Self {
        Self {
            text: TextBankSource::Prompts,
            classnames: "imagenet".into(),
            templates: "openai_imagenet".into(),
            visual_momentum: 0.999,
            guidance: String::new(),
        }
    }
}

/// `[loss]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LossSection {
    /// τs (0.2).
    pub student_temperature: f64,
    /// τt (0.01).
    pub teacher_temperature: f64,
    /// Weight of the image-bank cross-entropy (0.5).
    pub image_weight: f64,
    /// Weight of the text-bank cross-entropy (0.5).
    pub text_weight: f64,
}

impl Default for LossSection {
    fn default() -> Self {
        Self { student_temperature: 0.2, teacher_temperature: 0.01, image_weight: 0.5, text_weight: 0.5 }
    }
}

impl TeacherSection {
    pub(super) fn validate(&self, problems: &mut Problems) {
        problems.require(
            !self.weights.as_os_str().is_empty(),
            "teacher.weights",
            "must name the teacher's weights file",
        );
        if let Some(dim) = self.embed_dim {
            problems.require(dim > 0, "teacher.embed_dim", "must be > 0");
        }
        problems.require(
            self.cache_views <= 1000,
            "teacher.cache_views",
            "must be at most 1000 views per image (0: no cache)",
        );
    }
}

impl BanksSection {
    pub(super) fn validate(&self, teacher: TeacherKind, problems: &mut Problems) {
        problems.require((0.0..=1.0).contains(&self.visual_momentum), "banks.visual_momentum", "must be in [0, 1]");
        problems.require(!self.classnames.is_empty(), "banks.classnames", "must name a built-in list or a file");
        problems.require(!self.templates.is_empty(), "banks.templates", "must name a built-in list or a file");
        problems.require(
            !(self.text == TextBankSource::TeacherClassifier && teacher == TeacherKind::Clip),
            "banks.text",
            "`teacher_classifier` needs teacher.kind = \"supervised\" (a CLIP teacher has no classifier)",
        );
        problems.require(
            !(self.text == TextBankSource::Prompts && teacher == TeacherKind::Supervised),
            "banks.text",
            "`prompts` needs a CLIP teacher with a text tower; use `teacher_classifier` or a bank file",
        );
        problems.require(
            self.guidance.is_empty() || self.text == TextBankSource::TeacherClassifier,
            "banks.guidance",
            "guides the classifier bank of a supervised teacher: needs text = \"teacher_classifier\"",
        );
    }
}

impl LossSection {
    pub(super) fn validate(&self, problems: &mut Problems) {
        for (field, value) in [
            ("loss.student_temperature", self.student_temperature),
            ("loss.teacher_temperature", self.teacher_temperature),
        ] {
            problems.require(value.is_finite() && value > 0.0, field, "must be > 0");
        }
        for (field, value) in [("loss.image_weight", self.image_weight), ("loss.text_weight", self.text_weight)] {
            problems.require(value.is_finite() && value >= 0.0, field, "must be >= 0");
        }
        problems.require(
            self.image_weight + self.text_weight > 0.0,
            "loss.image_weight",
            "image_weight and text_weight cannot both be 0",
        );
    }
}

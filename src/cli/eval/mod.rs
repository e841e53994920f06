//! `lgd eval …` at the binary edge: arguments, progress, results as JSON (a file, and one line).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use lgd::config::DeviceSpec;
use lgd::daemon::guide_teacher;
use lgd::eval::measure::{
    agreement, knn, load_student, splits, teacher_embed, zero_shot_logits, Backbone, LoadedStudent, StudentSource,
};
use lgd::eval::metrics::top1_top5;
use lgd::eval::ValidationSet;
use lgd::models::student::StudentArch;
use lgd::models::teacher::{SupervisedTeacher, Teacher};
use lgd::objective::TextBank;
use serde_json::json;

use super::progress_bar::images_bar;

mod linear;
use linear::linear;

/// Which student, which data, where the results go.
#[derive(Args)]
pub struct Common {
    /// An `lgd train` checkpoint (`RUN/checkpoints/step-….safetensors`); results then go to `RUN/eval/`.
    #[arg(long, conflicts_with = "random_init")]
    checkpoint: Option<PathBuf>,
    /// Evaluate this architecture at random initialisation instead (a baseline).
    #[arg(long, value_enum)]
    random_init: Option<StudentArch>,
    /// A supervised teacher's weights (EfficientNet-Lite0): the reference of `agreement`, the
    /// backbone of `--features teacher`.
    #[arg(long)]
    teacher: Option<PathBuf>,
    /// The teacher's bank from a guidance list (as `banks.guidance`: one column per category of
    /// the dataset, e.g. `fashion_mnist_imagenet`); default: every classifier row.
    #[arg(long, requires = "teacher")]
    guidance: Option<String>,
    /// Dataset folder with `train/` and `val/` splits (image folders or packed).
    #[arg(long)]
    data: PathBuf,
    /// Evaluation transform: Resize(shorter side) then CenterCrop.
    #[arg(long, default_value_t = 256)]
    resize: usize,
    /// See `--resize`; also the side of the linear probe's training views.
    #[arg(long, default_value_t = 224)]
    crop: usize,
    /// Use at most this many images of each split (0 = all).
    #[arg(long, default_value_t = 0)]
    max_images: usize,
    /// ImageNet normalisation instead of CLIP's.
    #[arg(long)]
    imagenet_normalisation: bool,
    /// `cpu`, `cuda` or `cuda:N`.
    #[arg(long, default_value = "cpu")]
    device: DeviceSpec,
    /// Write the results as JSON here (default with `--checkpoint`: `RUN/eval/<what>-<checkpoint>.json`).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Whose features k-NN and the linear probe measure.
#[derive(Clone, Copy, ValueEnum)]
pub enum Features {
    /// The student's pooled backbone features.
    Student,
    /// The teacher's pooled features (`--teacher`).
    Teacher,
    /// The normalised pixels.
    Pixels,
}

/// How the linear layer is trained.
#[derive(Clone, Copy, ValueEnum)]
pub enum ProbeMethod {
    /// The original protocol: fresh RandomResizedCrop + flip views every epoch, resumable.
    Full,
    /// The same SGD schedule on features cached once (centre crops).
    Sgd,
    /// L-BFGS logistic regression on cached features, L2 penalty swept (CLIP's protocol).
    Lbfgs,
}

/// The evaluations.
#[derive(Subcommand)]
pub enum EvalCommand {
    /// Weighted k-NN (k = 20, τ = 0.07) on L2-normalised backbone features.
    Knn {
        #[command(flatten)]
        common: Common,
        /// Whose features.
        #[arg(long, value_enum, default_value = "student")]
        features: Features,
    },
    /// Linear probe on the frozen backbone.
    Linear {
        #[command(flatten)]
        common: Common,
        /// Whose features.
        #[arg(long, value_enum, default_value = "student")]
        features: Features,
        /// How the linear layer is trained.
        #[arg(long, value_enum, default_value = "full")]
        method: ProbeMethod,
        /// Probe epochs (`full` and `sgd`).
        #[arg(long, default_value_t = 100)]
        epochs: u64,
        /// Probe batch size (`full` and `sgd`); the lr is 30·batch/256.
        #[arg(long, default_value_t = 256)]
        batch: i64,
        /// Decode workers of `full` (0 = one per core).
        #[arg(long, default_value_t = 0)]
        workers: usize,
    },
    /// Zero-shot top-1/top-5 of the student (logits 100·s·T) over a text bank — and of the
    /// teacher, when `--teacher` embeds to the bank's width.
    ZeroShot {
        #[command(flatten)]
        common: Common,
        /// The text bank (`lgd bank`), one column per class of the dataset.
        #[arg(long)]
        bank: PathBuf,
    },
    /// Agreement with the supervised teacher (`--teacher`) over its class bank, and the mean KL.
    Agreement(Common),
}

/// Everything an evaluation reads.
pub(super) struct Prepared {
    student: Option<LoadedStudent>,
    teacher: Option<SupervisedTeacher>,
    train_dir: PathBuf,
    train: Option<ValidationSet>,
    val: ValidationSet,
    classes: i64,
    mean: [f32; 3],
    std: [f32; 3],
}

/// `embed_dim`: the head width of a random-init student; `need_train`: decode the train split.
pub(super) fn prepare(
    common: &Common,
    embed_dim: Option<i64>,
    need_student: bool,
    need_train: bool,
) -> anyhow::Result<Prepared> {
    let device = common.device.to_tch();
    let teacher = common.teacher.as_ref().map(|path| SupervisedTeacher::load(path, device)).transpose()?;
    let teacher = match (teacher, &common.guidance) {
        (Some(t), Some(guidance)) => Some(guide_teacher(t, "imagenet", guidance)?),
        (t, _) => t,
    };
    let student = if need_student {
        let width = embed_dim.or(teacher.as_ref().map(|t| t.embed_dim())).unwrap_or(1024);
        let source = match (&common.checkpoint, common.random_init) {
            (Some(path), _) => StudentSource::Checkpoint(path.clone()),
            (None, Some(arch)) => StudentSource::RandomInit { arch, embed_dim: width, seed: 0 },
            (None, None) => anyhow::bail!("give --checkpoint FILE or --random-init ARCH"),
        };
        Some(load_student(&source, device)?)
    } else {
        None
    };
    let (train_dir, val_dir) = splits(&common.data)?;
    let (mean, std) = if common.imagenet_normalisation {
        ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    } else {
        ([0.481_454_66, 0.457_827_5, 0.408_210_73], [0.268_629_54, 0.261_302_6, 0.275_777_1])
    };
    let load = |dir: &PathBuf| ValidationSet::load(dir, common.resize, common.crop, mean, std, common.max_images);
    let train = need_train.then(|| load(&train_dir)).transpose()?;
    let val = load(&val_dir)?;
    let classes = val.classes() as i64;
    Ok(Prepared { student, teacher, train_dir, train, val, classes, mean, std })
}

impl Prepared {
    fn backbone(&self, features: Features) -> anyhow::Result<Backbone<'_>> {
        Ok(match features {
            Features::Student => Backbone::Student(&self.student.as_ref().context("no student loaded")?.student),
            Features::Teacher => {
                Backbone::Teacher(self.teacher.as_ref().context("--features teacher needs --teacher WEIGHTS")?)
            }
            Features::Pixels => Backbone::Pixels,
        })
    }

    /// Features and labels of a split, with a progress bar.
    fn extract(
        &self,
        backbone: &Backbone,
        set: &ValidationSet,
        split: &str,
        device: tch::Device,
    ) -> (tch::Tensor, tch::Tensor) {
        let progress = images_bar(set.len() as u64, &format!("features of {split}"));
        let extracted = backbone.extract(set, device, |n| progress.inc(n as u64));
        progress.finish_and_clear();
        extracted
    }
}

/// Where results go: `--out`, else `RUN/eval/<what>-<checkpoint stem>.json` for a checkpoint in
/// `RUN/checkpoints/`, else nowhere (printed only).
pub(super) fn results_path(common: &Common, what: &str) -> Option<PathBuf> {
    if let Some(out) = &common.out {
        return Some(out.clone());
    }
    let checkpoint = common.checkpoint.as_ref()?;
    let folder = checkpoint.parent()?;
    let run = if folder.file_name()? == "checkpoints" { folder.parent()? } else { folder };
    Some(run.join("eval").join(format!("{what}-{}.json", checkpoint.file_stem()?.to_string_lossy())))
}

pub(super) fn report(path: Option<&Path>, value: serde_json::Value, line: String) -> anyhow::Result<()> {
    println!("{line}");
    if let Some(out) = path {
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| parent.display().to_string())?;
        }
        std::fs::write(out, serde_json::to_string_pretty(&value)?).with_context(|| out.display().to_string())?;
        tracing::info!(results = %out.display(), "written");
    }
    Ok(())
}

/// Appends one JSON object per line to the metrics file beside the results (`….jsonl`).
pub(super) fn metrics_writer(results: Option<&Path>) -> anyhow::Result<Option<std::fs::File>> {
    let Some(path) = results.map(|p| p.with_extension("jsonl")) else { return Ok(None) };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    Ok(Some(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| path.display().to_string())?,
    ))
}

pub(super) fn feature_name(features: Features) -> &'static str {
    match features {
        Features::Student => "student",
        Features::Teacher => "teacher",
        Features::Pixels => "pixels",
    }
}

/// Runs one evaluation.
pub fn run(command: EvalCommand) -> anyhow::Result<()> {
    match command {
        EvalCommand::Knn { common, features } => {
            let p = prepare(&common, None, matches!(features, Features::Student), true)?;
            let device = common.device.to_tch();
            let backbone = p.backbone(features)?;
            let train = p.extract(&backbone, p.train.as_ref().expect("loaded"), "train", device);
            let val = p.extract(&backbone, &p.val, "val", device);
            let (top1, top5) = knn((&train.0, &train.1), (&val.0, &val.1), p.classes);
            let value = json!({"knn": {"top1": top1, "top5": top5, "k": 20, "temperature": 0.07, "features": feature_name(features)}});
            report(
                results_path(&common, "knn").as_deref(),
                value,
                format!("knn ({}): top-1 {:.2} %, top-5 {:.2} %", feature_name(features), top1 * 100.0, top5 * 100.0),
            )
        }
        EvalCommand::Linear { common, features, method, epochs, batch, workers } => {
            linear(common, features, method, epochs, batch, workers)
        }
        EvalCommand::ZeroShot { common, bank } => {
            let bank_width = TextBank::load(&bank, None)?.dim();
            let p = prepare(&common, Some(bank_width), true, false)?;
            let device = common.device.to_tch();
            let bank = TextBank::load(&bank, Some(p.classes as usize))?;
            let student = &p.student.as_ref().expect("loaded").student;
            let (logits, labels) = zero_shot_logits(student, &p.val, &bank, device)?;
            let (top1, top5) = top1_top5(&logits, &labels);
            let mut value = json!({"zero_shot": {"top1": top1, "top5": top5}});
            let mut line = format!("zero-shot: student top-1 {:.2} %, top-5 {:.2} %", top1 * 100.0, top5 * 100.0);
            if let Some(teacher) = p.teacher.as_ref().filter(|t| t.embed_dim() == bank.dim()) {
                let embeddings = teacher_embed(teacher, &p.val, device);
                let (t1, t5) = top1_top5(&(embeddings.matmul(bank.to_device(device).tensor()) * 100.0), &labels);
                value["zero_shot"]["teacher_top1"] = json!(t1);
                value["zero_shot"]["teacher_top5"] = json!(t5);
                line += &format!("; teacher top-1 {:.2} %, top-5 {:.2} %", t1 * 100.0, t5 * 100.0);
            }
            report(results_path(&common, "zero-shot").as_deref(), value, line)
        }
        EvalCommand::Agreement(common) => {
            anyhow::ensure!(common.teacher.is_some(), "agreement needs --teacher WEIGHTS");
            let p = prepare(&common, None, true, false)?;
            let student = &p.student.as_ref().expect("loaded").student;
            let teacher = p.teacher.as_ref().expect("loaded");
            let report_value = agreement(student, teacher, &p.val, common.device.to_tch())?;
            let mut line = format!(
                "agreement: {:.2} % (mean KL {:.3})",
                report_value.top1_agreement * 100.0,
                report_value.mean_kl
            );
            if let (Some(s), Some(t)) = (report_value.student_top1, report_value.teacher_top1) {
                line += &format!("; zero-shot top-1 student {:.2} %, teacher {:.2} %", s * 100.0, t * 100.0);
            }
            report(results_path(&common, "agreement").as_deref(), json!({"agreement": report_value}), line)
        }
    }
}

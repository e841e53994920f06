//! `lgd eval …` at the binary edge: arguments, progress, results as JSON (a file, and one line).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use lgd::config::DeviceSpec;
use lgd::eval::command::{agreement, knn, linear, load_student, splits, zero_shot_logits, StudentSource};
use lgd::eval::linear_probe::ProbeConfig;
use lgd::eval::metrics::top1_top5;
use lgd::eval::ValidationSet;
use lgd::models::student::StudentArch;
use lgd::models::teacher::{SupervisedTeacher, Teacher};
use lgd::objective::TextBank;
use serde_json::json;

/// Which student and which data.
#[derive(Args)]
pub struct Common {
    /// An `lgd train` checkpoint (`checkpoints/step-….safetensors`).
    #[arg(long, conflicts_with = "random_init")]
    checkpoint: Option<PathBuf>,
    /// Evaluate this architecture at random initialisation instead (a baseline).
    #[arg(long, value_enum)]
    random_init: Option<StudentArch>,
    /// Dataset folder with `train/` and `val/` image folders.
    #[arg(long)]
    data: PathBuf,
    /// Evaluation transform: Resize(shorter side) then CenterCrop.
    #[arg(long, default_value_t = 256)]
    resize: usize,
    /// See `--resize`.
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
    /// Also write the results as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The evaluations.
#[derive(Subcommand)]
pub enum EvalCommand {
    /// Weighted k-NN (k = 20, τ = 0.07) on L2-normalised backbone features.
    Knn(Common),
    /// Linear probe on cached centre-crop features (the original's SGD schedule).
    Linear {
        #[command(flatten)]
        common: Common,
        /// Probe epochs.
        #[arg(long, default_value_t = 100)]
        epochs: u64,
    },
    /// Zero-shot top-1/top-5 of the student (logits 100·s·T) over a text bank.
    ZeroShot {
        #[command(flatten)]
        common: Common,
        /// The text bank (`lgd bank`), one column per class of the dataset.
        #[arg(long)]
        bank: PathBuf,
    },
    /// Agreement with a supervised teacher over its class bank, and the mean KL between them.
    Agreement {
        #[command(flatten)]
        common: Common,
        /// The teacher's weights (EfficientNet-Lite0).
        #[arg(long)]
        teacher: PathBuf,
    },
}

/// `embed_dim`: the head width for a random-init student (the teacher's width where one is used).
fn prepare(
    common: &Common,
    embed_dim: i64,
) -> anyhow::Result<(lgd::eval::command::LoadedStudent, ValidationSet, ValidationSet, i64)> {
    let source = match (&common.checkpoint, common.random_init) {
        (Some(path), _) => StudentSource::Checkpoint(path.clone()),
        (None, Some(arch)) => StudentSource::RandomInit { arch, embed_dim, seed: 0 },
        (None, None) => anyhow::bail!("give --checkpoint FILE or --random-init ARCH"),
    };
    let loaded = load_student(&source, common.device.to_tch()).map_err(anyhow::Error::msg)?;
    let (train_dir, val_dir) = splits(&common.data).map_err(anyhow::Error::msg)?;
    let (mean, std) = if common.imagenet_normalisation {
        ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    } else {
        ([0.481_454_66, 0.457_827_5, 0.408_210_73], [0.268_629_54, 0.261_302_58, 0.275_777_1])
    };
    let load = |dir: &PathBuf| ValidationSet::load(dir, common.resize, common.crop, mean, std, common.max_images);
    let train = load(&train_dir).map_err(anyhow::Error::msg)?;
    let val = load(&val_dir).map_err(anyhow::Error::msg)?;
    let classes = val.classes() as i64;
    Ok((loaded, train, val, classes))
}

fn report(common: &Common, value: serde_json::Value, line: String) -> anyhow::Result<()> {
    println!("{line}");
    if let Some(out) = &common.out {
        std::fs::write(out, serde_json::to_string_pretty(&value)?).with_context(|| out.display().to_string())?;
    }
    Ok(())
}

/// Runs one evaluation.
pub fn run(command: EvalCommand) -> anyhow::Result<()> {
    match command {
        EvalCommand::Knn(common) => {
            let (loaded, train, val, classes) = prepare(&common, 1024)?;
            let (top1, top5) = knn(&loaded.student, &train, &val, classes, common.device.to_tch());
            report(&common, json!({"knn": {"top1": top1, "top5": top5, "k": 20, "temperature": 0.07}}), format!("knn: top-1 {:.2} %, top-5 {:.2} %", top1 * 100.0, top5 * 100.0))
        }
        EvalCommand::Linear { common, epochs } => {
            let (loaded, train, val, classes) = prepare(&common, 1024)?;
            let config = ProbeConfig { epochs, warmup_epochs: 5.min(epochs), ..Default::default() };
            let history = linear(&loaded.student, &train, &val, classes, config, common.device.to_tch(), |e| {
                tracing::info!(epoch = e.epoch, top1 = e.top1, top5 = e.top5, "linear probe");
            });
            let last = history.last().copied().context("no epoch ran")?;
            report(&common, json!({"linear": {"epochs": history}}), format!("linear probe: top-1 {:.2} %, top-5 {:.2} % after {} epochs", last.top1 * 100.0, last.top5 * 100.0, last.epoch))
        }
        EvalCommand::ZeroShot { common, bank } => {
            let bank_width = TextBank::load(&bank, None)?.dim();
            let (loaded, _, val, classes) = prepare(&common, bank_width)?;
            let bank = TextBank::load(&bank, Some(classes as usize))?;
            let (logits, labels) = zero_shot_logits(&loaded.student, &val, &bank, common.device.to_tch()).map_err(anyhow::Error::msg)?;
            let (top1, top5) = top1_top5(&logits, &labels);
            report(&common, json!({"zero_shot": {"top1": top1, "top5": top5}}), format!("zero-shot: top-1 {:.2} %, top-5 {:.2} %", top1 * 100.0, top5 * 100.0))
        }
        EvalCommand::Agreement { common, teacher } => {
            let teacher = SupervisedTeacher::load(&teacher, common.device.to_tch())?;
            let (loaded, _, val, _) = prepare(&common, teacher.embed_dim())?;
            let (agree, kl) = agreement(&loaded.student, &teacher, &val, common.device.to_tch()).map_err(anyhow::Error::msg)?;
            report(&common, json!({"agreement": {"top1_agreement": agree, "mean_kl": kl}}), format!("agreement: {:.2} % (mean KL {kl:.3})", agree * 100.0))
        }
    }
}

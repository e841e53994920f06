//! `lgd eval linear`: the linear probe, by L-BFGS on cached features, SGD on cached features, or
//! the original protocol's SGD on fresh augmented views (resumable).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use lgd::eval::augmented_probe::{augmented_probe, AugmentedProbeSetup};
use lgd::eval::linear_probe::{linear_probe, ProbeConfig};
use lgd::eval::logistic_regression::sweep_and_fit;
use serde_json::json;

use super::{feature_name, metrics_writer, prepare, report, results_path, Common, Features, ProbeMethod};
use crate::cli::progress_bar::bar;

pub(super) fn linear(
    common: Common,
    features: Features,
    method: ProbeMethod,
    epochs: u64,
    batch: i64,
    workers: usize,
) -> anyhow::Result<()> {
    let device = common.device.to_tch();
    let cached = !matches!(method, ProbeMethod::Full);
    let p = prepare(&common, None, matches!(features, Features::Student), cached)?;
    let backbone = p.backbone(features)?;
    let results = results_path(&common, "linear");
    let mut metrics = metrics_writer(results.as_deref())?;
    let mut log = |value: serde_json::Value| {
        if let Some(file) = metrics.as_mut() {
            if let Err(error) = writeln!(file, "{value}") {
                tracing::warn!(%error, "could not append to the probe's metrics file");
            }
        }
    };
    let val = p.extract(&backbone, &p.val, "val", device);
    let config = ProbeConfig { epochs, batch, warmup_epochs: 5.min(epochs), ..Default::default() };
    let name = feature_name(features);
    match method {
        ProbeMethod::Lbfgs => {
            let train = p.extract(&backbone, p.train.as_ref().expect("loaded"), "train", device);
            let progress = bar(lgd::eval::logistic_regression::penalty_grid().len() as u64, "L2 sweep", "penalties");
            let probe = sweep_and_fit(&train.0, &train.1, &val.0, &val.1, p.classes, 0, |penalty, held_out| {
                log(json!({"penalty": penalty, "held_out_top1": held_out}));
                progress.inc(1);
            });
            progress.finish_and_clear();
            let (given, solved) = probe.features;
            let merged = if solved < given {
                format!(", {given} features solved as {solved} distinct ones")
            } else {
                String::new()
            };
            let line = format!(
                "linear probe ({name}, L-BFGS, λ {:.0e}{merged}): top-1 {:.2} %, top-5 {:.2} %",
                probe.penalty,
                probe.top1 * 100.0,
                probe.top5 * 100.0
            );
            report(
                results.as_deref(),
                json!({"linear": {"method": "lbfgs", "features": name, "top1": probe.top1, "top5": probe.top5, "penalty": probe.penalty, "sweep": probe.sweep, "features_given": probe.features.0, "features_solved": probe.features.1}}),
                line,
            )
        }
        ProbeMethod::Sgd | ProbeMethod::Full => {
            let progress = bar(epochs, "linear probe", "epochs");
            let on_epoch = |e: &lgd::eval::linear_probe::ProbeEpoch| {
                log(json!({"epoch": e.epoch, "top1": e.top1, "top5": e.top5}));
                tracing::debug!(epoch = e.epoch, top1 = e.top1, top5 = e.top5, "linear probe");
                progress.set_position(e.epoch);
                progress.set_message(format!("top-1 {:.2} %", e.top1 * 100.0));
            };
            let history = if let ProbeMethod::Sgd = method {
                let train = p.extract(&backbone, p.train.as_ref().expect("loaded"), "train", device);
                linear_probe(&train.0, &train.1, &val.0, &val.1, p.classes, config, on_epoch)
            } else {
                let identity = match (&common.checkpoint, common.random_init) {
                    _ if !matches!(features, Features::Student) => format!(
                        "{name} {}",
                        common.teacher.as_ref().map(|t| t.display().to_string()).unwrap_or_default()
                    ),
                    (Some(path), _) => format!("checkpoint {}", path.display()),
                    (None, arch) => format!("random-init {arch:?}"),
                };
                let state = results
                    .as_ref()
                    .map(|r| r.with_extension("probe.safetensors"))
                    .unwrap_or_else(|| PathBuf::from("linear-probe.probe.safetensors"));
                let setup = AugmentedProbeSetup {
                    train: p.train_dir.clone(),
                    crop: common.crop,
                    mean: p.mean,
                    std: p.std,
                    workers: if workers == 0 {
                        std::thread::available_parallelism().map_or(2, |n| n.get())
                    } else {
                        workers
                    },
                    state: state.clone(),
                    backbone: identity,
                };
                tracing::info!(state = %state.display(), "the probe saves its state after every epoch; run the same command again to resume");
                augmented_probe(&backbone, &setup, (&val.0, &val.1), p.classes, config, device, |_, _| {}, on_epoch)?
            };
            progress.finish_and_clear();
            let last = history.last().copied().context("no epoch ran")?;
            let method_name = if cached { "sgd" } else { "full" };
            let line = format!(
                "linear probe ({name}, {method_name}): top-1 {:.2} %, top-5 {:.2} % after {} epochs",
                last.top1 * 100.0,
                last.top5 * 100.0,
                last.epoch
            );
            report(
                results.as_deref(),
                json!({"linear": {"method": method_name, "features": name, "epochs": history}}),
                line,
            )
        }
    }
}

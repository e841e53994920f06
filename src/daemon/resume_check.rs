//! A resume continues the run that wrote the checkpoint, so before the trainer takes one, its config
//! and training data are compared with this start's. What the checkpoint's position and tensors
//! mean — the epoch's seeded order and batches (seed, training data and its size, batch size) and
//! the models its weights and banks belong to (student architecture, teacher, text bank) — must
//! not change: such a start is refused, naming each field, unless it accepts the change
//! (`lgd train --accept-changes`); the run then goes on from the same image of the epoch's order,
//! or from the next epoch when that image lies past the new epoch's last batch. Any other change is
//! taken and logged: as a warning when it changes how the run trains from here (schedule,
//! optimiser, augmentation, …), as information when it only changes how it runs (device,
//! pipeline, logging, …) or is one SIGHUP may make anyway.

use std::path::Path;

use super::reload::{config_differences, listed, RELOADABLE};
use super::{DaemonError, StartupError};
use crate::checkpoint::{DataShape, TrainingState};
use crate::config::Config;

/// Fields that fix what a checkpoint's position and tensors mean.
const WHAT_IT_MEANS: &[&str] = &[
    "run.seed",
    "data.train",
    "data.format",
    "data.batch_size",
    "student.arch",
    "teacher.kind",
    "teacher.weights",
    "teacher.embed_dim",
    "banks.text",
    "banks.classnames",
    "banks.templates",
    "banks.guidance",
];

/// Fields (dotted prefixes) that change how a run runs, not what it learns.
const HOW_IT_RUNS: &[&str] = &[
    "run.name",
    "run.device",
    "run.watch_config",
    "run.requeue",
    "run.requeue_signal",
    "data.val",
    "data.max_bad_fraction",
    "data.max_pixels",
    "teacher.own_stream",
    "augmentation.fast_decode",
    "augmentation.photometric",
    "augmentation.eval_resize",
    "augmentation.eval_crop",
    "precision.",
    "checkpoint.",
    "pipeline.",
    "status.",
    "distributed.",
    "fault_injection.",
];

/// What a checkpoint is checked against: this start's training data and whether it accepts
/// changes to the run's data or models.
pub(super) struct ResumeTerms {
    /// The training data as it is now.
    pub data: DataShape,
    /// Global batches per epoch under this start's config.
    pub steps_per_epoch: u64,
    /// `lgd train --accept-changes`.
    pub accept_changes: bool,
}

/// Checks `state` (read from `path`) against `config` and `terms`; on success its position is
/// one this start's data pipeline can begin at.
pub(super) fn check_resume(
    path: &Path,
    state: &mut TrainingState,
    config: &Config,
    terms: &ResumeTerms,
) -> Result<(), DaemonError> {
    let before = Config::parse(&state.config, path)
        .inspect_err(|e| tracing::warn!(checkpoint = %path.display(), "this version of lgd cannot read the checkpoint's config ({e}); it is not compared with this one"))
        .ok();
    let (mut means, mut trains, mut runs) = (Vec::new(), Vec::new(), Vec::new());
    for (field, old, new) in before.as_ref().map(|b| config_differences(b, config)).unwrap_or_default() {
        let change = format!("{field}: {old} -> {new}");
        if listed(&field, WHAT_IT_MEANS) {
            means.push(change);
        } else if listed(&field, HOW_IT_RUNS) || listed(&field, RELOADABLE) {
            runs.push(change);
        } else {
            trains.push(change);
        }
    }
    if let Some(then) = state.data.filter(|then| *then != terms.data) {
        means.push(format!(
            "the training data: {} images in {} classes then, {} in {} now",
            then.samples, then.classes, terms.data.samples, terms.data.classes
        ));
    }
    if !means.is_empty() {
        if !terms.accept_changes {
            return Err(StartupError::ResumeDiffers { path: path.to_owned(), differences: means }.into());
        }
        tracing::warn!(checkpoint = %path.display(), "continuing under changes to the run's data or models (--accept-changes): {}", means.join("; "));
    }
    if !trains.is_empty() {
        tracing::warn!(checkpoint = %path.display(), "resuming under changes to how the run trains: {}", trains.join("; "));
    }
    if !runs.is_empty() {
        tracing::info!(checkpoint = %path.display(), "resuming with changes to how the run runs: {}", runs.join("; "));
    }
    let old_batch = before.map_or(config.data.batch_size, |b| b.data.batch_size);
    let (epoch, step_in_epoch) =
        position(state.epoch, state.step_in_epoch, old_batch, config.data.batch_size, terms.steps_per_epoch);
    if (epoch, step_in_epoch) != (state.epoch, state.step_in_epoch) {
        tracing::warn!(
            "the checkpoint stood at batch {} of epoch {} (image {} of its order); under this config the run goes on at batch {} of {} of epoch {}",
            state.step_in_epoch,
            state.epoch,
            state.step_in_epoch * old_batch as u64,
            step_in_epoch,
            terms.steps_per_epoch,
            epoch
        );
        (state.epoch, state.step_in_epoch) = (epoch, step_in_epoch);
    }
    Ok(())
}

/// Where an epoch that stood at batch `step` of `old_batch` images goes on with batches of
/// `batch`: at the batch holding the same image of its order (images before it in that batch are
/// seen again), or at the next epoch when that lies past the epoch's `per_epoch` batches.
fn position(epoch: u64, step: u64, old_batch: usize, batch: usize, per_epoch: u64) -> (u64, u64) {
    let step = step * old_batch as u64 / batch as u64;
    if step < per_epoch {
        (epoch, step)
    } else {
        (epoch + 1, 0)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use tch::{Device, Kind, Tensor};

    use super::*;

    const CONFIG: &str = "[run]\ndevice = \"cpu\"\n[data]\ntrain = \"t\"\nbatch_size = 4\n[student]\narch = \"resnet18\"\n[teacher]\nkind = \"supervised\"\nweights = \"w\"\n[banks]\ntext = \"teacher_classifier\"\n[precision]\nautocast = \"fp32\"\n";
    const DATA: DataShape = DataShape { samples: 40, classes: 2 };

    fn checkpoint(step_in_epoch: u64, data: Option<DataShape>) -> TrainingState {
        TrainingState {
            step: 10 + step_in_epoch,
            epoch: 1,
            step_in_epoch,
            model: BTreeMap::new(),
            momentum: BTreeMap::new(),
            visual_bank: Tensor::zeros([4, 2], (Kind::Float, Device::Cpu)),
            seen: Tensor::from_slice(&[false, true]),
            scaler: None,
            config: Config::parse(CONFIG, Path::new("run.toml")).unwrap().to_toml(),
            data,
        }
    }

    fn check(
        state: &mut TrainingState,
        config_text: &str,
        data: DataShape,
        accept_changes: bool,
    ) -> Result<(), String> {
        let config = Config::parse(config_text, Path::new("run.toml")).unwrap();
        let steps_per_epoch = data.samples / config.data.batch_size as u64;
        let terms = ResumeTerms { data, steps_per_epoch, accept_changes };
        check_resume(Path::new("step-17.safetensors"), state, &config, &terms).map_err(|e| e.to_string())
    }

    #[test]
    fn how_the_run_runs_and_trains_may_change() {
        let mut state = checkpoint(7, Some(DATA));
        let changed = format!(
            "{}\n[pipeline]\ndecode_workers = 3\n[loss]\ntext_weight = 0.75\n[schedule]\nepochs = 300\n[augmentation]\nrecipe = \"simclr\"\n",
            CONFIG.replace("autocast = \"fp32\"", "autocast = \"bf16\"")
        );
        assert_eq!(check(&mut state, &changed, DATA, false), Ok(()));
        assert_eq!((state.epoch, state.step_in_epoch), (1, 7), "the position stands");
        // A checkpoint of an older version names no data: nothing to compare.
        assert_eq!(check(&mut checkpoint(7, None), CONFIG, DataShape { samples: 44, classes: 2 }, false), Ok(()));
    }

    #[test]
    fn its_data_and_models_may_not_change_unless_accepted() {
        let refused =
            check(&mut checkpoint(7, Some(DATA)), &CONFIG.replace("batch_size = 4", "batch_size = 8"), DATA, false)
                .unwrap_err();
        assert!(refused.starts_with("step-17.safetensors: "), "{refused}");
        assert!(refused.contains("(data.batch_size: 4 -> 8)") && refused.contains("--accept-changes"), "{refused}");
        let model =
            check(&mut checkpoint(7, Some(DATA)), &CONFIG.replace("\"resnet18\"", "\"mobilenet_v2\""), DATA, false)
                .unwrap_err();
        assert!(model.contains("(student.arch: \"resnet18\" -> \"mobilenet_v2\")"), "{model}");
        let data =
            check(&mut checkpoint(7, Some(DATA)), CONFIG, DataShape { samples: 38, classes: 2 }, false).unwrap_err();
        assert!(data.contains("the training data: 40 images in 2 classes then, 38 in 2 now"), "{data}");
    }

    #[test]
    fn an_accepted_change_goes_on_at_the_same_image() {
        // Batch 4 → 8: batch 7 began at image 28, which batch 3 of 5 holds (images 24..32).
        let mut state = checkpoint(7, Some(DATA));
        assert_eq!(check(&mut state, &CONFIG.replace("batch_size = 4", "batch_size = 8"), DATA, true), Ok(()));
        assert_eq!((state.epoch, state.step, state.step_in_epoch), (1, 17, 3));
        // Batch 4 → 16: image 36 is past the 2 whole batches of 16, so the next epoch begins.
        let mut state = checkpoint(9, Some(DATA));
        assert_eq!(check(&mut state, &CONFIG.replace("batch_size = 4", "batch_size = 16"), DATA, true), Ok(()));
        assert_eq!((state.epoch, state.step_in_epoch), (2, 0));
        // Fewer images, same batch: batch 9 of 9 does not exist any more.
        let mut state = checkpoint(9, Some(DATA));
        assert_eq!(check(&mut state, CONFIG, DataShape { samples: 36, classes: 2 }, true), Ok(()));
        assert_eq!((state.epoch, state.step_in_epoch), (2, 0));
    }
}

//! Start-up checks of `lgd train`, each failing fast with one line naming the culprit: the run
//! folder (writable, not used by another process), the training data, the checkpoint to resume.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lgd_actors::source::SampleSource;
use lgd_datasets::image_folder::ImageFolder;
use lgd_datasets::packed::PackedDataset;

use super::resume_check::{check_resume, ResumeTerms};
use super::{AnyTeacher, DaemonError, StartupError};
use crate::checkpoint::{list_checkpoints, newest_valid, TrainingState};
use crate::config::{Config, DataFormat, ResumePolicy};
use crate::train::Trainer;

/// Creates the run folder, checks it is writable and takes its lock (held while the returned
/// file lives). Nothing in the folder changes yet: a start that is refused (a resume under
/// changes, a stop during start-up) leaves it as it was, but for the status that says why.
pub(super) fn lock_run_dir(run_dir: &Path) -> Result<File, DaemonError> {
    if run_dir.exists() && !run_dir.is_dir() {
        return Err(StartupError::RunDirIsFile(run_dir.to_owned()).into());
    }
    std::fs::create_dir_all(run_dir).map_err(|source| StartupError::RunDir { path: run_dir.to_owned(), source })?;
    let probe = run_dir.join(".lgd-write-probe");
    std::fs::write(&probe, b"ok")
        .map_err(|source| StartupError::RunDirNotWritable { path: run_dir.to_owned(), source })?;
    let _ = std::fs::remove_file(probe);
    let lock_path = run_dir.join("lock");
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|source| StartupError::RunFile { path: lock_path.clone(), source })?;
    if lock.try_lock().is_err() {
        let holder = std::fs::read_to_string(run_dir.join("pid")).unwrap_or_default();
        return Err(StartupError::RunDirInUse { path: run_dir.to_owned(), pid: holder.trim().to_owned() }.into());
    }
    Ok(lock)
}

/// The start is accepted (the checkpoint to resume agrees with it): this process takes the run
/// folder over: its pid, the config in force, and no partial checkpoint a killed process left.
pub(super) fn claim_run_dir(run_dir: &Path, config: &Config) -> Result<(), DaemonError> {
    let _ = std::fs::write(run_dir.join("pid"), std::process::id().to_string());
    let path = run_dir.join("config.toml");
    std::fs::write(&path, config.to_toml()).map_err(|source| StartupError::RunFile { path, source })?;
    if let Ok(entries) = std::fs::read_dir(run_dir.join("checkpoints")) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.contains(".tmp-") {
                tracing::info!(file = %entry.path().display(), "removing a partial checkpoint left by an interrupted write");
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    Ok(())
}

/// The training samples: an image folder or a packed dataset.
pub(super) fn open_training_data(config: &Config) -> Result<Arc<dyn SampleSource>, DaemonError> {
    Ok(match config.data.format {
        DataFormat::Folder => {
            Arc::new(ImageFolder::open(&config.data.train).map_err(|e| StartupError::TrainingData(e.into()))?)
        }
        DataFormat::Packed => {
            Arc::new(PackedDataset::open(&config.data.train).map_err(|e| StartupError::TrainingData(e.into()))?)
        }
    })
}

/// The checkpoint `checkpoint.resume` says to go on from, if any; broken newer checkpoints are named
/// and skipped, and the one taken must agree with this start on what the run learns
/// (`resume_check`). Read before the teacher loads, so that a refused start fails at once.
pub(super) fn checkpoint_to_resume(
    config: &Config,
    run_dir: &Path,
    terms: &ResumeTerms,
) -> Result<Option<(PathBuf, TrainingState)>, DaemonError> {
    let mut state = match &config.checkpoint.resume {
        ResumePolicy::Never => {
            if let Some(existing) = list_checkpoints(run_dir).last() {
                return Err(StartupError::ResumeNever(existing.clone()).into());
            }
            None
        }
        ResumePolicy::Auto => {
            let (found, skipped) = newest_valid(run_dir);
            for error in skipped {
                tracing::warn!("skipping a broken checkpoint: {error}");
            }
            found
        }
        ResumePolicy::File(path) => Some((path.clone(), TrainingState::load(path).map_err(StartupError::from)?)),
    };
    if let Some((path, state)) = &mut state {
        check_resume(path, state, config, terms)?;
    }
    Ok(state)
}

/// Restores the trainer from the checkpoint `checkpoint_to_resume` chose.
pub(super) fn resume(
    trainer: &mut Trainer<AnyTeacher>,
    (path, state): (PathBuf, TrainingState),
) -> Result<(), DaemonError> {
    tracing::info!(path = %path.display(), step = state.step, epoch = state.epoch, step_in_epoch = state.step_in_epoch, "resuming");
    Ok(trainer.restore(state).map_err(StartupError::Resume)?)
}

//! Where checkpoints live in a run folder, which to keep, and which to resume from.
//! Files are `checkpoints/step-<step, 10 digits>.safetensors`, so name order is step order.

use std::path::{Path, PathBuf};

use super::{CheckpointError, TrainingState};

/// The checkpoint file for `step` in `run_dir`.
pub fn checkpoint_path(run_dir: &Path, step: u64) -> PathBuf {
    run_dir.join("checkpoints").join(format!("step-{step:010}.safetensors"))
}

/// Checkpoint files of a run folder, oldest first.
pub fn list_checkpoints(run_dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(run_dir.join("checkpoints")) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("step-") && name.ends_with(".safetensors")
        })
        .collect();
    files.sort();
    files
}

/// The newest checkpoint that loads and verifies; the ones skipped (newer but broken) are
/// returned with their errors so the caller can name them in the log.
pub fn newest_valid(run_dir: &Path) -> (Option<(PathBuf, TrainingState)>, Vec<CheckpointError>) {
    let mut skipped = Vec::new();
    for path in list_checkpoints(run_dir).into_iter().rev() {
        match TrainingState::load(&path) {
            Ok(state) => return (Some((path, state)), skipped),
            Err(error) => skipped.push(error),
        }
    }
    (None, skipped)
}

/// Deletes all but the newest `keep_last` checkpoints; returns the files removed.
pub fn prune(run_dir: &Path, keep_last: usize) -> std::io::Result<Vec<PathBuf>> {
    let files = list_checkpoints(run_dir);
    let excess = files.len().saturating_sub(keep_last);
    let mut removed = Vec::new();
    for path in files.into_iter().take(excess) {
        std::fs::remove_file(&path)?;
        removed.push(path);
    }
    Ok(removed)
}

//! Seeded per-class selections: the Caltech-256 split (first 256 category folders, m training
//! images per class, the rest validation) and the ImageNet subset (m images per class).
//!
//! Each class draws from its own ChaCha8 stream (seed, stream = class position), so a class's
//! choice does not depend on the other classes (adding a class later changes nothing else) and the
//! same seed gives the same files on every machine. The original drew with Python's `random`;
//! its exact files cannot be reproduced, only the procedure.

use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::error::ToolError;
use super::place::{class_folders, fresh_output, images_in, place, Placement};

/// What a split or subset produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitSummary {
    /// Classes in the output.
    pub classes: usize,
    /// Files placed in the training set (the subset itself, for an ImageNet subset).
    pub train: usize,
    /// Files placed in the validation set (0 for a subset).
    pub val: usize,
    /// Classes that had fewer images than asked for, with their count (subset only: all taken).
    pub short_classes: Vec<(String, usize)>,
}

/// `m` of `n` positions drawn without replacement from class `class`'s stream, ascending.
pub fn choose(n: usize, m: usize, seed: u64, class: usize) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(class as u64);
    let mut picked = rand::seq::index::sample(&mut rng, n, m.min(n)).into_vec();
    picked.sort_unstable();
    picked
}

fn absolute(path: &Path) -> Result<PathBuf, ToolError> {
    path.canonicalize().map_err(ToolError::io(path, "cannot resolve"))
}

/// Caltech-256 split of `src` into `out/train/<class>/` and `out/val/<class>/`: the first
/// `classes` category folders in sorted order (256 leaves out `257.clutter`), `train_per_class`
/// random images of each for training and every other image for validation. Only image files
/// directly inside a category folder count (a nested folder or a stray non-image file is
/// ignored), so the validation set is exactly "the rest". Every class is checked before anything
/// is written.
pub fn caltech_split(
    src: &Path,
    out: &Path,
    classes: usize,
    train_per_class: usize,
    seed: u64,
    how: Placement,
) -> Result<SplitSummary, ToolError> {
    if train_per_class == 0 || classes == 0 {
        return Err(ToolError::InvalidOption {
            option: "--train-per-class/--classes",
            why: "must be at least 1".into(),
        });
    }
    let folders = class_folders(src)?;
    if folders.len() < classes {
        return Err(ToolError::TooFewClasses { root: src.to_owned(), found: folders.len(), wanted: classes });
    }
    let src = absolute(src)?;
    let mut plan = Vec::with_capacity(classes);
    for (index, class) in folders.iter().take(classes).enumerate() {
        let files = images_in(&src.join(class))?;
        if files.len() <= train_per_class {
            return Err(ToolError::TooFewImages {
                folder: src.join(class),
                found: files.len(),
                wanted: train_per_class + 1,
                why: "the training images and at least one for validation",
            });
        }
        let train = choose(files.len(), train_per_class, seed, index);
        plan.push((class, files, train));
    }
    fresh_output(out)?;
    let mut summary = SplitSummary { classes, train: 0, val: 0, short_classes: Vec::new() };
    for (class, files, train) in plan {
        for (position, file) in files.iter().enumerate() {
            let is_train = train.binary_search(&position).is_ok();
            let split = if is_train { "train" } else { "val" };
            let name = file.file_name().expect("a listed file has a name");
            place(file, &out.join(split).join(class).join(name), how)?;
            *(if is_train { &mut summary.train } else { &mut summary.val }) += 1;
        }
    }
    Ok(summary)
}

/// ImageNet-style subset of `src` into `out/<class>/`: `per_class` random images of every class
/// folder (all of them, reported in `short_classes`, where a class has fewer).
pub fn imagenet_subset(
    src: &Path,
    out: &Path,
    per_class: usize,
    seed: u64,
    how: Placement,
) -> Result<SplitSummary, ToolError> {
    if per_class == 0 {
        return Err(ToolError::InvalidOption { option: "--per-class", why: "must be at least 1".into() });
    }
    let folders = class_folders(src)?;
    if folders.is_empty() {
        return Err(ToolError::TooFewClasses { root: src.to_owned(), found: 0, wanted: 1 });
    }
    let src = absolute(src)?;
    let mut plan = Vec::with_capacity(folders.len());
    for (index, class) in folders.iter().enumerate() {
        let files = images_in(&src.join(class))?;
        if files.is_empty() {
            return Err(ToolError::TooFewImages {
                folder: src.join(class),
                found: 0,
                wanted: 1,
                why: "every class needs an image",
            });
        }
        let chosen = choose(files.len(), per_class, seed, index);
        plan.push((class, files, chosen));
    }
    fresh_output(out)?;
    let mut summary = SplitSummary { classes: folders.len(), train: 0, val: 0, short_classes: Vec::new() };
    for (class, files, chosen) in plan {
        if files.len() < per_class {
            summary.short_classes.push((class.clone(), files.len()));
        }
        for &position in &chosen {
            let file = &files[position];
            let name = file.file_name().expect("a listed file has a name");
            place(file, &out.join(class).join(name), how)?;
            summary.train += 1;
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests;

//! Putting a chosen source file into an output tree: a symbolic link (the default — a subset of
//! ImageNet costs no space and stays one `rm -r` away) or a copy (for moving the subset elsewhere).

use std::path::{Path, PathBuf};

use super::error::ToolError;

/// How chosen files appear in the output tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Placement {
    /// A symbolic link to the source file's absolute path.
    #[default]
    Link,
    /// A copy of the file.
    Copy,
}

/// Makes `out` (which must be missing or empty) and returns it.
pub(crate) fn fresh_output(out: &Path) -> Result<(), ToolError> {
    if std::fs::read_dir(out).map(|mut d| d.next().is_some()).unwrap_or(false) {
        return Err(ToolError::OutputNotEmpty { path: out.to_owned() });
    }
    std::fs::create_dir_all(out).map_err(ToolError::io(out, "cannot create the output folder"))
}

/// Places the absolute source file `src` at `dst` (its folder is created).
pub(crate) fn place(src: &Path, dst: &Path, how: Placement) -> Result<(), ToolError> {
    if let Some(dir) = dst.parent() {
        std::fs::create_dir_all(dir).map_err(ToolError::io(dir, "cannot create"))?;
    }
    match how {
        Placement::Copy => std::fs::copy(src, dst).map(drop).map_err(ToolError::io(src, "cannot copy")),
        Placement::Link => link(src, dst),
    }
}

#[cfg(unix)]
fn link(src: &Path, dst: &Path) -> Result<(), ToolError> {
    std::os::unix::fs::symlink(src, dst).map_err(ToolError::io(dst, "cannot create a symbolic link"))
}

#[cfg(not(unix))]
fn link(src: &Path, dst: &Path) -> Result<(), ToolError> {
    std::os::windows::fs::symlink_file(src, dst).map_err(ToolError::io(dst, "cannot create a symbolic link"))
}

/// The sorted names of the sub-folders of `root` (following links), as ImageFolder orders classes.
pub(crate) fn class_folders(root: &Path) -> Result<Vec<String>, ToolError> {
    let meta = std::fs::metadata(root).map_err(ToolError::io(root, "cannot read the source folder"))?;
    if !meta.is_dir() {
        return Err(ToolError::NotAFolder { path: root.to_owned() });
    }
    let entries = std::fs::read_dir(root).map_err(ToolError::io(root, "cannot list"))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(ToolError::io(root, "cannot list"))?;
        if std::fs::metadata(entry.path()).is_ok_and(|m| m.is_dir()) {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// The image files directly inside `folder` (torchvision's extensions), sorted by name.
pub(crate) fn images_in(folder: &Path) -> Result<Vec<PathBuf>, ToolError> {
    let entries = std::fs::read_dir(folder).map_err(ToolError::io(folder, "cannot list"))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(ToolError::io(folder, "cannot list"))?;
        let name = entry.file_name().to_string_lossy().to_lowercase();
        let is_image = crate::image_folder::IMG_EXTENSIONS.iter().any(|e| name.ends_with(&format!(".{e}")));
        if is_image && std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file()) {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

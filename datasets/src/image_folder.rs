//! Image-folder datasets (`root/<class>/**/<image>`), indexed exactly as torchvision's
//! `ImageFolder`: classes are the sorted names of the root's sub-folders (label = position),
//! samples are walked class by class, folders in sorted path order, files sorted by name, with
//! the same accepted extensions (case-insensitive). Same order means the same labels and the same
//! sample indices as the original, which the zero-shot evaluation and any cached teacher outputs
//! rely on.

use std::path::{Path, PathBuf};

/// torchvision's `IMG_EXTENSIONS`.
pub const IMG_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "ppm", "bmp", "pgm", "tif", "tiff", "webp"];

/// Why a folder could not be indexed. Every variant names the path at fault.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    /// The root (or a folder under it) cannot be listed.
    #[error("{path}: cannot read the dataset folder: {source}")]
    Io {
        /// The folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The root exists but is a file.
    #[error("{root}: the dataset root is not a folder")]
    NotAFolder {
        /// The root.
        root: PathBuf,
    },
    /// No class sub-folders.
    #[error("{root}: no class folders (expected root/<class>/<images>)")]
    NoClasses {
        /// The root.
        root: PathBuf,
    },
    /// Class folders without a single accepted image (torchvision refuses these too).
    #[error("{root}: no images ({exts}) in the class folders: {classes}", exts = IMG_EXTENSIONS.join(", "), classes = .classes.join(", "))]
    EmptyClasses {
        /// The root.
        root: PathBuf,
        /// The empty classes.
        classes: Vec<String>,
    },
}

/// An indexed image folder.
#[derive(Debug, Clone)]
pub struct ImageFolder {
    root: PathBuf,
    classes: Vec<String>,
    samples: Vec<(PathBuf, u32)>,
}

fn has_image_extension(path: &Path) -> bool {
    // torchvision lower-cases the whole name and tests `endswith`.
    let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    IMG_EXTENSIONS.iter().any(|e| name.ends_with(&format!(".{e}")))
}

fn list(dir: &Path) -> Result<Vec<std::fs::DirEntry>, FolderError> {
    let io = |source| FolderError::Io { path: dir.to_owned(), source };
    std::fs::read_dir(dir).map_err(io)?.collect::<Result<Vec<_>, _>>().map_err(io)
}

/// Every accepted file under `dir` (following links), in `sorted(os.walk(dir))` order.
fn walk(dir: &Path, visited: &mut Vec<PathBuf>, out: &mut Vec<(String, Vec<PathBuf>)>) -> Result<(), FolderError> {
    // A linked folder can point back up the tree; visit each real folder once.
    if let Ok(real) = dir.canonicalize() {
        if visited.contains(&real) {
            return Ok(());
        }
        visited.push(real);
    }
    let mut files = Vec::new();
    for entry in list(dir)? {
        let path = entry.path();
        // `metadata` follows links, as os.walk(followlinks=True) does. An image name whose
        // metadata cannot be read (a dangling link) is still listed, as torchvision lists it: the
        // read then fails and the file is reported as a bad sample instead of vanishing silently.
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => walk(&path, visited, out)?,
            _ if has_image_extension(&path) => files.push(path),
            _ => {}
        }
    }
    files.sort_by_key(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    out.push((dir.to_string_lossy().into_owned(), files));
    Ok(())
}

impl ImageFolder {
    /// Indexes `root`; a missing, unreadable or empty root is an error naming it.
    pub fn open(root: &Path) -> Result<Self, FolderError> {
        let meta = std::fs::metadata(root).map_err(|source| FolderError::Io { path: root.to_owned(), source })?;
        if !meta.is_dir() {
            return Err(FolderError::NotAFolder { root: root.to_owned() });
        }
        let mut classes: Vec<String> = list(root)?
            .into_iter()
            .filter(|e| std::fs::metadata(e.path()).map(|m| m.is_dir()).unwrap_or(false))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        classes.sort();
        if classes.is_empty() {
            return Err(FolderError::NoClasses { root: root.to_owned() });
        }
        let mut samples = Vec::new();
        let mut empty = Vec::new();
        for (label, class) in classes.iter().enumerate() {
            let mut dirs = Vec::new();
            walk(&root.join(class), &mut Vec::new(), &mut dirs)?;
            dirs.sort_by(|a, b| a.0.cmp(&b.0));
            let before = samples.len();
            samples.extend(dirs.into_iter().flat_map(|(_, f)| f).map(|p| (p, label as u32)));
            if samples.len() == before {
                empty.push(class.clone());
            }
        }
        if !empty.is_empty() {
            return Err(FolderError::EmptyClasses { root: root.to_owned(), classes: empty });
        }
        Ok(Self { root: root.to_owned(), classes, samples })
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Class names; a sample's label indexes this list.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// (path, label) in torchvision's order.
    pub fn samples(&self) -> &[(PathBuf, u32)] {
        &self.samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    #[test]
    fn order_labels_extensions_and_errors_follow_imagefolder() {
        let root = std::env::temp_dir().join(format!("lgd-imagefolder-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        assert!(matches!(ImageFolder::open(&root), Err(FolderError::Io { .. })));
        std::fs::create_dir_all(&root).unwrap();
        assert!(matches!(ImageFolder::open(&root), Err(FolderError::NoClasses { .. })));
        touch(&root.join("dog/b.JPG"));
        touch(&root.join("dog/a.png"));
        touch(&root.join("dog/sub/c.webp"));
        touch(&root.join("dog/notes.txt"));
        touch(&root.join("Cat/z.jpeg"));
        std::fs::create_dir_all(root.join("empty")).unwrap();
        let e = ImageFolder::open(&root).unwrap_err();
        assert!(matches!(&e, FolderError::EmptyClasses { classes, .. } if classes == &["empty"]), "{e}");
        std::fs::remove_dir(root.join("empty")).unwrap();
        let f = ImageFolder::open(&root).unwrap();
        // Upper case sorts first (code point order), as Python's sorted().
        assert_eq!(f.classes(), ["Cat", "dog"]);
        let names: Vec<(String, u32)> = f
            .samples()
            .iter()
            .map(|(p, l)| (p.strip_prefix(&root).unwrap().to_string_lossy().into_owned(), *l))
            .collect();
        let expected = [("Cat/z.jpeg", 0), ("dog/a.png", 1), ("dog/b.JPG", 1), ("dog/sub/c.webp", 1)];
        assert_eq!(names, expected.map(|(n, l)| (n.to_string(), l)));
        let file = root.join("dog/a.png");
        assert!(matches!(ImageFolder::open(&file), Err(FolderError::NotAFolder { .. })));
        std::fs::remove_dir_all(&root).unwrap();
    }
}

//! What `lgd bench data` reads: an image folder (one file read per sample) or a packed dataset
//! (a slice of a mapped shard per sample), so the benchmark measures either of the two inputs a
//! training run takes, through the same decode and view code.

use std::path::{Path, PathBuf};

use crate::decode::DecodeError;
use crate::image_folder::ImageFolder;
use crate::packed::format::INDEX_FILE;
use crate::packed::{PackError, PackedDataset};

use super::BenchError;

/// Why one sample could not be read or decoded: it counts as bad, as the pipeline would skip it.
/// Both variants name the sample.
#[derive(Debug, thiserror::Error)]
pub enum BadSample {
    /// Its bytes could not be had from the pack (out of range, outside its shard).
    #[error(transparent)]
    Packed(#[from] PackError),
    /// The file could not be read, or its bytes do not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// The benchmark's samples, by index.
pub(crate) enum Samples {
    /// The files of an image folder.
    Folder(Vec<PathBuf>),
    /// A packed dataset, mapped.
    Packed(PackedDataset),
}

impl Samples {
    /// Opens `root` as a packed dataset when it holds a pack's index, else as an image folder.
    pub(crate) fn open(root: &Path) -> Result<Self, BenchError> {
        if root.join(INDEX_FILE).is_file() {
            return Ok(Self::Packed(PackedDataset::open(root)?));
        }
        let folder = ImageFolder::open(root)?;
        Ok(Self::Folder(folder.samples().iter().map(|(p, _)| p.clone()).collect()))
    }

    /// Number of samples.
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Folder(files) => files.len(),
            Self::Packed(data) => data.len(),
        }
    }

    /// True for a packed dataset.
    pub(crate) fn is_packed(&self) -> bool {
        matches!(self, Self::Packed(_))
    }

    /// Calls `f` with sample `index`'s encoded bytes and a path naming it (the file, or the
    /// sample's original path inside the pack folder); a sample that cannot be read is an error
    /// naming it.
    pub(crate) fn with_bytes<R>(&self, index: usize, f: impl FnOnce(&[u8], &Path) -> R) -> Result<R, BadSample> {
        match self {
            Self::Folder(files) => {
                let path = &files[index];
                let bytes = std::fs::read(path).map_err(|source| DecodeError::Io { path: path.clone(), source })?;
                Ok(f(&bytes, path))
            }
            Self::Packed(data) => {
                let (bytes, _) = data.get(index)?;
                let name = data.path(index)?;
                Ok(f(bytes, &data.dir().join(name)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{run, BenchOptions};
    use crate::bench::images::make_images;
    use crate::packed::{pack, Chroma, Encoding, FolderSource, PackOptions};

    #[test]
    fn the_benchmark_reads_a_pack_as_it_reads_the_folder_it_was_made_from() {
        let dir = std::env::temp_dir().join(format!("lgd-bench-samples-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        make_images(&dir.join("src"), 4, 1).unwrap();
        let source = FolderSource::open(&dir.join("src")).unwrap();
        let encoding = Encoding::Jpeg { max_side: 256, quality: 90, chroma: Chroma::Yuv420 };
        pack(&source, &dir.join("pack"), &PackOptions { encoding, threads: 1, ..Default::default() }, &mut |_| {})
            .unwrap();
        let opts = BenchOptions { images: Some(8), threads: 2, ..Default::default() };
        let folder = run(&dir.join("src"), &opts).unwrap();
        let packed = run(&dir.join("pack"), &opts).unwrap();
        assert!(!folder.packed && packed.packed);
        assert_eq!((folder.bad, packed.bad, packed.images), (0, 0, 8));
        assert!(packed.to_string().contains("packed dataset"), "{packed}");
        // A damaged index is named, not mistaken for an image folder.
        std::fs::write(dir.join("pack/index.lgdpack"), b"LGDPACK\0 cut short").unwrap();
        let e = run(&dir.join("pack"), &opts).unwrap_err().to_string();
        assert!(e.contains("index.lgdpack"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

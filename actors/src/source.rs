//! Where samples come from: anything that can hand out a sample's encoded bytes and label by index
//! — an image folder or a packed dataset — and [`open_source`], which tells the two apart.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lgd_datasets::image_folder::{FolderError, ImageFolder};
use lgd_datasets::packed::format::INDEX_FILE;
use lgd_datasets::packed::{PackError, PackedDataset};

/// Indexed encoded samples.
pub trait SampleSource: Send + Sync {
    /// Number of samples.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The encoded image and its label.
    fn read(&self, index: usize) -> std::io::Result<(Vec<u8>, u32)>;
    /// The sample's name in messages and `bad_samples.txt` (its path).
    fn describe(&self, index: usize) -> PathBuf;
    /// Class names, in label order.
    fn classes(&self) -> &[String];
}

/// Why a training or validation source could not be opened (each names the root or file at fault).
#[derive(Debug, thiserror::Error)]
pub enum OpenSourceError {
    /// A packed dataset's index or shards.
    #[error(transparent)]
    Packed(#[from] PackError),
    /// An image folder.
    #[error(transparent)]
    Folder(#[from] FolderError),
}

/// Opens `root` as a packed dataset when it holds a pack index, else as an image folder.
pub fn open_source(root: &Path) -> Result<Arc<dyn SampleSource>, OpenSourceError> {
    if root.join(INDEX_FILE).is_file() {
        Ok(Arc::new(PackedDataset::open(root)?))
    } else {
        Ok(Arc::new(ImageFolder::open(root)?))
    }
}

impl SampleSource for ImageFolder {
    fn len(&self) -> usize {
        self.samples().len()
    }

    fn read(&self, index: usize) -> std::io::Result<(Vec<u8>, u32)> {
        let (path, label) = &self.samples()[index];
        Ok((std::fs::read(path)?, *label))
    }

    fn describe(&self, index: usize) -> PathBuf {
        self.samples()[index].0.clone()
    }

    fn classes(&self) -> &[String] {
        ImageFolder::classes(self)
    }
}

impl SampleSource for lgd_datasets::packed::PackedDataset {
    fn len(&self) -> usize {
        lgd_datasets::packed::PackedDataset::len(self)
    }

    /// The mapped bytes, copied for the worker; a checksum mismatch is an error (the sample is
    /// then replaced and reported like an undecodable file).
    fn read(&self, index: usize) -> std::io::Result<(Vec<u8>, u32)> {
        match self.get_checked(index) {
            Ok(Some((bytes, label))) => Ok((bytes.to_vec(), label)),
            Ok(None) => Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "checksum mismatch in the pack")),
            Err(error) => Err(std::io::Error::other(error.to_string())),
        }
    }

    fn describe(&self, index: usize) -> PathBuf {
        PathBuf::from(self.path(index).unwrap_or_else(|_| format!("packed sample {index}")))
    }

    fn classes(&self) -> &[String] {
        lgd_datasets::packed::PackedDataset::classes(self)
    }
}

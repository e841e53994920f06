//! What a pack is built from: anything with class names and numbered, labelled samples that can
//! produce their encoded bytes — an image folder, or IDX files rendered as PNG.

use std::path::Path;

use crate::image_folder::ImageFolder;

use super::error::SampleError;

/// A source of labelled encoded images, in a fixed order (sample `i` of the pack is the `i`-th
/// sample of the source that could be packed).
pub trait SampleSource: Sync {
    /// A name for messages (the root folder, the IDX file).
    fn describe(&self) -> String;
    /// Class names; labels index this list.
    fn classes(&self) -> &[String];
    /// Number of samples.
    fn len(&self) -> usize;
    /// True when there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The sample's name relative to the source, stored in the index and used in reports.
    fn name(&self, index: usize) -> String;
    /// The sample's label.
    fn label(&self, index: usize) -> u32;
    /// The sample's encoded bytes; an error names the sample (it will be skipped).
    fn load(&self, index: usize) -> Result<Vec<u8>, SampleError>;

    /// CRC-32 over classes, names and labels: an unfinished pack only resumes from the same source.
    fn fingerprint(&self) -> u32 {
        let mut h = crc32fast::Hasher::new();
        for class in self.classes() {
            h.update(class.as_bytes());
            h.update(b"\n");
        }
        for i in 0..self.len() {
            h.update(self.name(i).as_bytes());
            h.update(&self.label(i).to_le_bytes());
        }
        h.finalize()
    }
}

/// An image folder as a pack source: the files' bytes in `ImageFolder` order.
#[derive(Debug)]
pub struct FolderSource {
    folder: ImageFolder,
}

impl FolderSource {
    /// Wraps an indexed folder.
    pub fn new(folder: ImageFolder) -> Self {
        Self { folder }
    }

    /// Indexes `root` (a missing or empty root is an error naming it).
    pub fn open(root: &Path) -> Result<Self, crate::image_folder::FolderError> {
        Ok(Self::new(ImageFolder::open(root)?))
    }
}

impl SampleSource for FolderSource {
    fn describe(&self) -> String {
        self.folder.root().display().to_string()
    }

    fn classes(&self) -> &[String] {
        self.folder.classes()
    }

    fn len(&self) -> usize {
        self.folder.samples().len()
    }

    fn name(&self, index: usize) -> String {
        let path = &self.folder.samples()[index].0;
        path.strip_prefix(self.folder.root()).unwrap_or(path).to_string_lossy().into_owned()
    }

    fn label(&self, index: usize) -> u32 {
        self.folder.samples()[index].1
    }

    fn load(&self, index: usize) -> Result<Vec<u8>, SampleError> {
        let path = &self.folder.samples()[index].0;
        std::fs::read(path).map_err(|source| SampleError::Read { path: path.clone(), source })
    }
}

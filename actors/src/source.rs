//! Where samples come from: anything that can hand out a sample's encoded bytes and label by index
//! (an image folder now; the packed format plugs in the same way).

use std::path::PathBuf;

use lgd_datasets::image_folder::ImageFolder;

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

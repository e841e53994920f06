//! A decode/augment worker: reads a sample, draws its view from the (seed, epoch, index) stream,
//! decodes what the view needs (the crop's window with `fast_decode`) and writes normalised CHW
//! floats — or, with `photometric = "device"`, the u8 view after crop, resize and flip, with its
//! parameters for the device's batched photometric stage. A sample that cannot be read or decoded is replaced by the next one in a fixed probe
//! sequence — same replacement on every run — and reported, so one bad file never stops or stalls
//! the run.

use std::path::PathBuf;
use std::sync::Arc;

use lgd_datasets::augment::pipeline::{Augmenter, Workspace};
use lgd_datasets::augment::PhotometricPlace;
use lgd_datasets::decode::DecodeOptions;
use lgd_datasets::training_view::decode_for_view;

use crate::batch_pixels::SamplePixels;
use crate::source::SampleSource;

/// Replacement attempts before a sample slot is declared unfillable.
const MAX_REPLACEMENTS: usize = 16;

/// One sample to produce: its slot in the epoch order and the dataset index there.
#[derive(Debug, Clone, Copy)]
pub struct Job {
    /// Epoch.
    pub epoch: u64,
    /// Position in the epoch order (batch = position / batch size).
    pub position: usize,
    /// Dataset index.
    pub index: usize,
}

/// A produced sample.
#[derive(Debug)]
pub struct Produced {
    /// The job it answers.
    pub job: Job,
    /// The sample's pixels, or an error when no replacement worked either.
    pub pixels: Result<SamplePixels, String>,
    /// Its label.
    pub label: u32,
    /// Files that failed on the way (path, reason).
    pub bad: Vec<(PathBuf, String)>,
}

/// What a worker needs, shared by all workers.
pub struct WorkerContext {
    /// The samples.
    pub source: Arc<dyn SampleSource>,
    /// The view recipe.
    pub augmenter: Augmenter,
    /// Decompression-bomb guard and friends.
    pub decode: DecodeOptions,
    /// Run seed of the augmentation streams.
    pub seed: u64,
    /// With a teacher-output cache of V views per image: epoch e shows the views of epoch e mod V,
    /// whose teacher embeddings the cache holds. `None`: every epoch draws its own views.
    pub view_epochs: Option<u64>,
    /// Fault injection for tests: producing this dataset index blocks the worker for good, as a
    /// read from a hung network mount would (the stall watchdog must notice).
    pub stall_on: Option<usize>,
}

impl WorkerContext {
    /// Produces one sample (with replacements for bad files).
    pub fn produce(&self, job: Job) -> Produced {
        let size = self.augmenter.config().output_size;
        let mut bad = Vec::new();
        let len = self.source.len();
        if self.stall_on == Some(job.index) {
            loop {
                std::thread::park();
            }
        }
        let view_epoch = self.view_epochs.map_or(job.epoch, |views| job.epoch % views);
        for attempt in 0..MAX_REPLACEMENTS {
            // Probe sequence: the sample itself, then fixed strides away from it.
            let index = (job.index + attempt * 7919) % len;
            let path = self.source.describe(index);
            let result = self.source.read(index).map_err(|e| format!("unreadable: {e}")).and_then(|(bytes, label)| {
                decode_for_view(&self.augmenter, &bytes, &path, &self.decode, (self.seed, view_epoch, index as u64))
                    .map(|source| (source, label))
                    .map_err(|e| e.to_string())
            });
            match result {
                Ok((source, label)) => {
                    let mut view = lgd_datasets::RgbImage::new(0, 0);
                    let mut workspace = Workspace::default();
                    let pixels = match self.augmenter.config().photometric {
                        PhotometricPlace::Device => {
                            source.apply_geometric_into(&self.augmenter, &mut workspace, &mut view);
                            SamplePixels::Raw { rgb: view.into_raw(), view: source.params }
                        }
                        // `auto` is resolved by the daemon, where the training device is known;
                        // left unresolved (no training device) the workers are where it runs.
                        PhotometricPlace::Host | PhotometricPlace::Auto => {
                            source.apply_into(&self.augmenter, &mut workspace, &mut view);
                            let mut pixels = vec![0f32; 3 * size * size];
                            self.augmenter.normalize_into(&view, &mut pixels);
                            SamplePixels::Normalized(pixels)
                        }
                    };
                    return Produced { job, pixels: Ok(pixels), label, bad };
                }
                Err(reason) => bad.push((path, reason)),
            }
        }
        let message = format!("{MAX_REPLACEMENTS} samples in a row failed from index {}", job.index);
        Produced { job, pixels: Err(message), label: 0, bad }
    }
}

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
use lgd_datasets::decode::{DecodeError, DecodeOptions};
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

/// Why one try at a sample failed: the worker records it as a bad file and tries the next sample
/// of its probe sequence. Both variants name the file.
#[derive(Debug, thiserror::Error)]
pub enum SampleFailure {
    /// The source could not read the sample.
    #[error("{path}: unreadable: {source}")]
    Unreadable {
        /// The sample's file (or its path inside a pack).
        path: PathBuf,
        /// The source's error.
        source: std::io::Error,
    },
    /// The bytes do not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// No sample could fill a slot; the pipeline stops with this as the batch's error.
#[derive(Debug, thiserror::Error)]
pub enum NoSample {
    /// The sample and every replacement failed.
    #[error("{} samples in a row failed from index {index}; the last: {last}", MAX_REPLACEMENTS)]
    AllFailed {
        /// The dataset index the slot asked for.
        index: usize,
        /// The last replacement's failure.
        #[source]
        last: SampleFailure,
    },
    /// The worker panicked while producing it.
    #[error("decode worker panicked: {0}")]
    Panicked(String),
}

/// A produced sample.
#[derive(Debug)]
pub struct Produced {
    /// The job it answers.
    pub job: Job,
    /// The sample's pixels, or an error when no replacement worked either.
    pub pixels: Result<SamplePixels, NoSample>,
    /// Its label.
    pub label: u32,
    /// Files that failed on the way (path, the failure as reported in `bad_samples.txt`).
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
}

impl WorkerContext {
    /// Produces one sample (with replacements for bad files), with the calling worker's
    /// `workspace`: its resize and blur buffers are reused from one sample to the next.
    pub fn produce(&self, job: Job, workspace: &mut Workspace) -> Produced {
        let size = self.augmenter.config().output_size;
        let mut bad = Vec::new();
        let len = self.source.len();
        let view_epoch = self.view_epochs.map_or(job.epoch, |views| job.epoch % views);
        let mut last = None;
        for attempt in 0..MAX_REPLACEMENTS {
            // Probe sequence: the sample itself, then fixed strides away from it.
            let index = (job.index + attempt * 7919) % len;
            let path = self.source.describe(index);
            let read =
                self.source.read(index).map_err(|source| SampleFailure::Unreadable { path: path.clone(), source });
            let result = read.and_then(|(bytes, label)| {
                let seed = (self.seed, view_epoch, index as u64);
                Ok((decode_for_view(&self.augmenter, &bytes, &path, &self.decode, seed)?, label))
            });
            match result {
                Ok((source, label)) => {
                    let mut view = lgd_datasets::RgbImage::new(0, 0);
                    let pixels = match self.augmenter.config().photometric {
                        PhotometricPlace::Device => {
                            source.apply_geometric_into(&self.augmenter, workspace, &mut view);
                            SamplePixels::Raw { rgb: view.into_raw(), view: source.params }
                        }
                        // `auto` is resolved by the daemon, where the training device is known;
                        // left unresolved (no training device) the workers are where it runs.
                        PhotometricPlace::Host | PhotometricPlace::Auto => {
                            source.apply_into(&self.augmenter, workspace, &mut view);
                            let mut pixels = vec![0f32; 3 * size * size];
                            self.augmenter.normalize_into(&view, &mut pixels);
                            SamplePixels::Normalized(pixels)
                        }
                    };
                    return Produced { job, pixels: Ok(pixels), label, bad };
                }
                Err(failure) => {
                    bad.push((path, failure.to_string()));
                    last = Some(failure);
                }
            }
        }
        let last = last.expect("MAX_REPLACEMENTS tries, each failed");
        Produced { job, pixels: Err(NoSample::AllFailed { index: job.index, last }), label: 0, bad }
    }
}

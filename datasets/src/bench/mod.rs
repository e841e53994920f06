//! `lgd bench data`: throughput of the full CPU training-view path over an image folder or a
//! packed dataset ([`samples`]).
//!
//! What is timed is what a decode/augment worker does for one sample, with nothing moved off the
//! CPU: read the file (or take the sample's slice of a mapped shard), draw the view's parameters of (seed, epoch 0, index) from its header, decode
//! what the view needs (the crop's window with `fast_decode`, the whole image as PIL would
//! without), apply the view and write the normalised C×H×W f32 slot. `threads` workers share one
//! atomic counter of sample indices and each owns its buffers, as the pipeline's workers do.
//! With `photometric = "device"` in the recipe only the worker's part is timed — read, decode,
//! crop, resize and flip, the u8 copy into the batch slot — the rest running batched on the training
//! device (`lgd bench photometric` times that part).
//! The Python twin (`scripts/bench_data_torchvision.py`) times torchvision + PIL on the same files
//! with the same recipe, so the two figures compare like with like. [`images`] writes the
//! synthetic ImageNet-like folder both can run on.

pub mod images;
mod samples;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::augment::{AugmentationConfig, Augmenter, InvalidConfig, PhotometricPlace, Workspace};
use crate::decode::DecodeOptions;
use crate::image_folder::FolderError;
use crate::packed::PackError;
use crate::rgb::RgbImage;
use crate::training_view::decode_for_view;
pub use samples::BadSample;
use samples::Samples;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Worker threads (one core each, ideally).
    pub threads: usize,
    /// Samples to process (cycling over the folder); `None`: every file once, at least 200.
    pub images: Option<usize>,
    /// The run seed of the per-sample parameter streams.
    pub seed: u64,
    /// The recipe (default: MoCo-v2 with CLIP normalisation).
    pub augmentation: AugmentationConfig,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self { threads: 1, images: None, seed: 0, augmentation: AugmentationConfig::default() }
    }
}

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The image folder could not be indexed.
    #[error(transparent)]
    Folder(#[from] FolderError),
    /// The packed dataset could not be opened.
    #[error(transparent)]
    Packed(#[from] PackError),
    /// The augmentation config is invalid.
    #[error(transparent)]
    Config(#[from] InvalidConfig),
    /// Zero threads or zero images requested.
    #[error("nothing to measure: {0}")]
    Empty(&'static str),
    /// Every sample failed to read or decode (the first failure is given).
    #[error("no image of {root} could be decoded; first failure: {first}")]
    AllBad {
        /// The dataset root.
        root: PathBuf,
        /// The first failure (boxed: it is large, and rare).
        #[source]
        first: Box<BadSample>,
    },
}

/// The measured figures.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Worker threads.
    pub threads: usize,
    /// Samples processed (including bad ones).
    pub images: usize,
    /// Samples whose file could not be read or decoded (skipped, as the pipeline would).
    pub bad: usize,
    /// Wall-clock time of the timed part.
    pub elapsed: Duration,
    /// Summed over workers: time reading + decoding, augmenting, normalising.
    pub decode: Duration,
    /// Time in the geometric half of the view (crop + resize + flip).
    pub geometric: Duration,
    /// Time in the photometric half on the workers (jitter, grayscale, blur; zero when it runs
    /// on the device).
    pub photometric_time: Duration,
    /// Time in ToTensor+Normalize (with the photometric stage on the device: the u8 slot copy).
    pub normalize: Duration,
    /// Where jitter, grayscale, blur and normalisation run (on the device: not timed here);
    /// `auto` is taken as the host here, the library knowing no training device (`lgd bench
    /// data` resolves it for its machine first).
    pub photometric: PhotometricPlace,
    /// CPU time the process used during the timed part (Linux; `None` elsewhere).
    pub cpu: Option<Duration>,
    /// Whether only the crops' windows were decoded (`fast_decode`).
    pub fast_decode: bool,
    /// Whether the samples came from a packed dataset (else from an image folder's files).
    pub packed: bool,
}

impl BenchReport {
    /// Samples per second, all workers together.
    pub fn images_per_second(&self) -> f64 {
        self.images as f64 / self.elapsed.as_secs_f64()
    }

    /// Samples per second per worker thread (per core when each worker has a core).
    pub fn images_per_second_per_core(&self) -> f64 {
        self.images_per_second() / self.threads as f64
    }

    /// Samples per CPU-second: the per-core rate that other processes on a shared machine
    /// cannot lower by taking the cores away (they still share caches).
    pub fn images_per_cpu_second(&self) -> Option<f64> {
        self.cpu.map(|c| self.images as f64 / c.as_secs_f64())
    }
}

/// User + system CPU time of this process so far, from `/proc/self/stat` (fields 14 and 15, in
/// the kernel's fixed 100 Hz user-visible ticks). `None` where there is no such file.
fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; the fields after it follow its closing ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let per = |d: Duration| 1e3 * d.as_secs_f64() / self.images.max(1) as f64;
        write!(
            f,
            "lgd (Rust) MoCo-v2 {}{}, {}: {} threads, {} images in {:.2} s: {:.0} img/s, {:.0} img/s/core, \
             {} img/CPU-s (per image on one worker: read+decode {:.2} ms, crop+resize+flip {:.2} ms, \
             {}, {} {:.2} ms; {} bad)",
            match self.photometric {
                PhotometricPlace::Host | PhotometricPlace::Auto => "CPU path",
                PhotometricPlace::Device => "CPU part (photometric + normalise on the device)",
            },
            if self.fast_decode { "" } else { " (full decode)" },
            if self.packed { "packed dataset" } else { "image folder" },
            self.threads,
            self.images,
            self.elapsed.as_secs_f64(),
            self.images_per_second(),
            self.images_per_second_per_core(),
            self.images_per_cpu_second().map_or("n/a".into(), |r| format!("{r:.0}")),
            per(self.decode),
            per(self.geometric),
            match self.photometric {
                PhotometricPlace::Device => "photometric on the device".to_owned(),
                _ => format!("photometric {:.2} ms", per(self.photometric_time)),
            },
            match self.photometric {
                PhotometricPlace::Host | PhotometricPlace::Auto => "normalise",
                PhotometricPlace::Device => "u8 slot copy",
            },
            per(self.normalize),
            self.bad
        )
    }
}

/// Per-worker sums.
#[derive(Default)]
struct Totals {
    decode: Duration,
    geometric: Duration,
    photometric: Duration,
    normalize: Duration,
    bad: usize,
    first_error: Option<BadSample>,
}

/// Runs the benchmark over `root`: a packed dataset (a folder with `index.lgdpack`) or an image
/// folder.
pub fn run(root: &Path, opts: &BenchOptions) -> Result<BenchReport, BenchError> {
    if opts.threads == 0 {
        return Err(BenchError::Empty("--threads must be at least 1"));
    }
    let files = Samples::open(root)?;
    let count = opts.images.unwrap_or(files.len().max(200));
    if count == 0 {
        return Err(BenchError::Empty("--images must be at least 1"));
    }
    let augmenter = Augmenter::new(opts.augmentation.clone())?;
    // A few untimed samples per worker first: page cache, lookup tables, buffer growth.
    let warmup = (2 * opts.threads).min(count);
    let warm = Totals::default();
    process(&files, &augmenter, opts, 0..warmup, &Mutex::new(warm));
    let totals = Mutex::new(Totals::default());
    let (start, cpu_start) = (Instant::now(), process_cpu_time());
    process(&files, &augmenter, opts, warmup..warmup + count, &totals);
    let elapsed = start.elapsed();
    let cpu = process_cpu_time().zip(cpu_start).map(|(end, start)| end.saturating_sub(start));
    let t = totals.into_inner().unwrap_or_else(|e| e.into_inner());
    // Every sample failing leaves a first failure.
    if let (true, Some(first)) = (t.bad == count, t.first_error) {
        return Err(BenchError::AllBad { root: root.to_owned(), first: Box::new(first) });
    }
    Ok(BenchReport {
        threads: opts.threads,
        images: count,
        bad: t.bad,
        elapsed,
        decode: t.decode,
        geometric: t.geometric,
        photometric_time: t.photometric,
        normalize: t.normalize,
        cpu,
        fast_decode: opts.augmentation.fast_decode,
        photometric: opts.augmentation.photometric.resolve(false),
        packed: files.is_packed(),
    })
}

/// Processes sample indices `range` (sample = index mod the number of samples) on `opts.threads`
/// scoped workers pulling from one counter.
fn process(
    files: &Samples,
    augmenter: &Augmenter,
    opts: &BenchOptions,
    range: std::ops::Range<usize>,
    totals: &Mutex<Totals>,
) {
    let next = AtomicUsize::new(range.start);
    let side = augmenter.config().output_size;
    std::thread::scope(|scope| {
        for _ in 0..opts.threads {
            scope.spawn(|| {
                let mut mine = Totals::default();
                let mut ws = Workspace::default();
                let mut view = RgbImage::new(0, 0);
                let mut slot = vec![0f32; 3 * side * side];
                let mut byte_slot = vec![0u8; 3 * side * side];
                let on_device = augmenter.config().photometric == PhotometricPlace::Device;
                let options = DecodeOptions::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= range.end {
                        break;
                    }
                    let t0 = Instant::now();
                    let source = files
                        .with_bytes(i % files.len(), |bytes, path| {
                            decode_for_view(augmenter, bytes, path, &options, (opts.seed, 0, i as u64))
                        })
                        .and_then(|decoded| decoded.map_err(BadSample::from));
                    let source = match source {
                        Ok(source) => source,
                        Err(e) => {
                            mine.bad += 1;
                            mine.first_error.get_or_insert(e);
                            continue;
                        }
                    };
                    let t1 = Instant::now();
                    // The two halves timed apart: the same calls as `ViewSource::apply_into`.
                    source.apply_geometric_into(augmenter, &mut ws, &mut view);
                    let t2 = Instant::now();
                    if !on_device {
                        augmenter.apply_photometric(&mut view, &source.params, &mut ws);
                    }
                    let t3 = Instant::now();
                    if on_device {
                        byte_slot.copy_from_slice(view.as_raw());
                    } else {
                        augmenter.normalize_into(&view, &mut slot);
                    }
                    let t4 = Instant::now();
                    mine.decode += t1 - t0;
                    mine.geometric += t2 - t1;
                    mine.photometric += t3 - t2;
                    mine.normalize += t4 - t3;
                }
                let mut all = totals.lock().unwrap_or_else(|e| e.into_inner());
                all.decode += mine.decode;
                all.geometric += mine.geometric;
                all.photometric += mine.photometric;
                all.normalize += mine.normalize;
                all.bad += mine.bad;
                if all.first_error.is_none() {
                    all.first_error = mine.first_error;
                }
            });
        }
    });
}

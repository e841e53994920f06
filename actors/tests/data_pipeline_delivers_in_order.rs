//! The data pipeline delivers full batches in epoch order whatever order its workers finish in,
//! replaces and reports bad files, resumes mid-epoch with the same pixels, reads no further ahead
//! than its capacities, and shuts down cleanly.

use std::path::PathBuf;
use std::sync::Arc;

use lgd_actors::batch_memory::{AllocError, BatchMemory, Element, Heap, HostBuffer};
use lgd_actors::batch_pixels::BatchPixels;
use lgd_actors::data_pipeline::{credit_window, DataChannels, DataPipeline, DataPlan, Next};
use lgd_actors::decode_worker::WorkerContext;
use lgd_actors::pipeline_config::PipelineConfig;
use lgd_actors::sampler::{epoch_order, Shard};
use lgd_actors::source::SampleSource;
use lgd_datasets::augment::config::{AugmentationConfig, PhotometricPlace};
use lgd_datasets::augment::pipeline::Augmenter;
use lgd_datasets::decode::DecodeOptions;

/// In-memory PNGs; sample i has label i % 3 and a flat grey level from i; `broken` are garbage.
struct Memory {
    images: Vec<Vec<u8>>,
    classes: Vec<String>,
    /// A sample whose read blocks its worker for good.
    stalled: Option<usize>,
}

impl Memory {
    fn new(count: usize, broken: &[usize]) -> Self {
        let images = (0..count)
            .map(|i| {
                if broken.contains(&i) {
                    return b"not an image".to_vec();
                }
                let img = image::RgbImage::from_pixel(40, 30, image::Rgb([(i * 9) as u8, 50, 100]));
                let mut bytes = Vec::new();
                img.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).unwrap();
                bytes
            })
            .collect();
        Self { images, classes: vec!["a".into(), "b".into(), "c".into()], stalled: None }
    }
}

impl SampleSource for Memory {
    fn len(&self) -> usize {
        self.images.len()
    }
    fn read(&self, index: usize) -> std::io::Result<(Vec<u8>, u32)> {
        if self.stalled == Some(index) {
            loop {
                std::thread::park();
            }
        }
        Ok((self.images[index].clone(), (index % 3) as u32))
    }
    fn describe(&self, index: usize) -> PathBuf {
        PathBuf::from(format!("memory/{index}.png"))
    }
    fn classes(&self) -> &[String] {
        &self.classes
    }
}

fn start(source: Memory, plan: DataPlan, workers: usize) -> DataPipeline {
    start_with(source, plan, workers, AugmentationConfig { output_size: 16, ..Default::default() })
}

fn start_with(source: Memory, plan: DataPlan, workers: usize, config: AugmentationConfig) -> DataPipeline {
    start_viewing(source, plan, workers, config, None)
}

fn start_viewing(
    source: Memory,
    plan: DataPlan,
    workers: usize,
    config: AugmentationConfig,
    view_epochs: Option<u64>,
) -> DataPipeline {
    let context = WorkerContext {
        source: Arc::new(source),
        augmenter: Augmenter::new(config).unwrap(),
        decode: DecodeOptions::default(),
        seed: 5,
        view_epochs,
    };
    let sizing = PipelineConfig { decode_workers: workers, decoded_samples: 8, host_batches: 2, ..Default::default() };
    start_sized(context, plan, &sizing)
}

/// The pipeline on channels sized from `sizing`, as the `lgd` crate's topology wires it (this
/// crate cannot use that one: it depends on this crate).
fn start_sized(context: WorkerContext, plan: DataPlan, sizing: &PipelineConfig) -> DataPipeline {
    use crossbeam_channel::bounded;
    let channels = DataChannels {
        jobs: bounded(sizing.decoded_samples),
        decoded: bounded(sizing.decoded_samples),
        batches: bounded(sizing.host_batches),
        credits: bounded(credit_window(sizing.decoded_samples, plan.batch)),
        stop: bounded(0),
        exited: bounded(0),
    };
    DataPipeline::start(context, plan, sizing.resolved_decode_workers(), channels)
}

fn plan(start_epoch: u64, start_step: u64) -> DataPlan {
    DataPlan {
        batch: 4,
        image_size: 16,
        start_epoch,
        start_step,
        epochs: 2,
        seed: 11,
        shard: Shard::WHOLE,
        memory: Arc::new(Heap),
    }
}

#[test]
fn batches_arrive_in_order_with_the_sampled_labels() {
    let pipeline = start(Memory::new(18, &[]), plan(0, 0), 3);
    let mut seen = Vec::new();
    while let Some(batch) = pipeline.next() {
        let batch = batch.unwrap();
        let order = epoch_order(18, 11, batch.epoch);
        let expected: Vec<u32> =
            (0..4).map(|slot| (order[batch.step_in_epoch as usize * 4 + slot] % 3) as u32).collect();
        assert_eq!(batch.labels, expected, "labels follow the epoch order");
        assert_eq!(batch.pixels.normalized().map(<[f32]>::len), Some(4 * 3 * 16 * 16));
        seen.push((batch.epoch, batch.step_in_epoch));
    }
    assert_eq!(
        seen,
        vec![(0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (1, 1), (1, 2), (1, 3)],
        "18 samples: 4 full batches"
    );
    pipeline.shutdown();
}

/// With `photometric = "device"` the workers stop after crop, resize and flip; the host's own
/// photometric half applied to those bytes gives exactly the normalised batch of the default.
#[test]
fn raw_views_carry_what_the_device_stage_needs() {
    let host = AugmentationConfig { output_size: 16, ..Default::default() };
    let device = AugmentationConfig { photometric: PhotometricPlace::Device, ..host.clone() };
    let augmenter = Augmenter::new(host.clone()).unwrap();
    let normalised = start_with(Memory::new(12, &[]), plan(0, 0), 2, host);
    let raw = start_with(Memory::new(12, &[]), plan(0, 0), 2, device);
    let (mut batches, mut jittered) = (0, 0);
    while let (Some(a), Some(b)) = (normalised.next(), raw.next()) {
        let (a, b) = (a.unwrap(), b.unwrap());
        let BatchPixels::Raw { rgb, views } = &b.pixels else { panic!("device mode delivers u8 views") };
        let rgb = rgb.as_slice::<u8>().unwrap();
        let mut expected = Vec::new();
        for (slot, view) in views.iter().enumerate() {
            let bytes = rgb[slot * 16 * 16 * 3..(slot + 1) * 16 * 16 * 3].to_vec();
            let mut image = lgd_datasets::RgbImage::from_raw(16, 16, bytes).unwrap();
            augmenter.apply_photometric(&mut image, view, &mut Default::default());
            let mut floats = vec![0.0; 3 * 16 * 16];
            augmenter.normalize_into(&image, &mut floats);
            expected.extend(floats);
            jittered += usize::from(view.jitter.is_some());
        }
        assert_eq!(a.pixels.normalized().unwrap(), &expected[..], "epoch {} batch {}", a.epoch, a.step_in_epoch);
        batches += 1;
    }
    assert_eq!(batches, 6);
    assert!(jittered > 0, "the recipe's jitter fired on some views");
    normalised.shutdown();
    raw.shutdown();
}

/// Pixels of every sample of `epoch`, by dataset index.
fn views_of(
    batches: &[lgd_actors::data_pipeline::HostBatch],
    epoch: u64,
) -> std::collections::BTreeMap<usize, Vec<f32>> {
    let values = 3 * 16 * 16;
    batches
        .iter()
        .filter(|b| b.epoch == epoch)
        .flat_map(|b| {
            let pixels = b.pixels.normalized().unwrap();
            b.indices.iter().enumerate().map(move |(slot, &i)| (i, pixels[slot * values..(slot + 1) * values].to_vec()))
        })
        .collect()
}

/// With a teacher-output cache of 2 views, epoch 2 shows each image exactly as epoch 0 did (in
/// another order), and epoch 1 shows other views.
#[test]
fn cached_view_epochs_repeat_their_views() {
    let config = AugmentationConfig { output_size: 16, ..Default::default() };
    let plan = DataPlan { epochs: 3, ..plan(0, 0) };
    let pipeline = start_viewing(Memory::new(12, &[]), plan, 2, config, Some(2));
    let batches: Vec<_> = std::iter::from_fn(|| pipeline.next()).map(Result::unwrap).collect();
    pipeline.shutdown();
    let (first, second, third) = (views_of(&batches, 0), views_of(&batches, 1), views_of(&batches, 2));
    assert_eq!(first.len(), 12);
    assert_eq!(third, first, "epoch 2 replays epoch 0's views");
    assert_ne!(second, first, "epoch 1 has views of its own");
    let orders: Vec<Vec<usize>> = [0, 2]
        .iter()
        .map(|&e| batches.iter().filter(|b| b.epoch == e).flat_map(|b| b.indices.clone()).collect())
        .collect();
    assert_ne!(orders[0], orders[1], "the sample order is still the epoch's own");
}

#[test]
fn bad_files_are_replaced_and_reported() {
    let pipeline = start(Memory::new(12, &[2, 5]), plan(0, 0), 2);
    let mut reported = Vec::new();
    let mut batches = 0;
    while let Some(batch) = pipeline.next() {
        reported.extend(batch.unwrap().bad.into_iter().map(|(path, _)| path));
        batches += 1;
    }
    reported.sort();
    reported.dedup();
    assert_eq!(batches, 6, "no batch lost");
    assert_eq!(reported, vec![PathBuf::from("memory/2.png"), PathBuf::from("memory/5.png")]);
    pipeline.shutdown();
}

#[test]
fn resuming_mid_epoch_gives_the_same_batches() {
    let fresh = start(Memory::new(16, &[]), plan(0, 0), 2);
    let all: Vec<_> = std::iter::from_fn(|| fresh.next()).map(Result::unwrap).collect();
    fresh.shutdown();
    let resumed = start(Memory::new(16, &[]), plan(0, 2), 1);
    let rest: Vec<_> = std::iter::from_fn(|| resumed.next()).map(Result::unwrap).collect();
    resumed.shutdown();
    assert_eq!(rest.len(), all.len() - 2);
    for (a, b) in all[2..].iter().zip(&rest) {
        assert_eq!((a.epoch, a.step_in_epoch), (b.epoch, b.step_in_epoch));
        assert_eq!(a.pixels, b.pixels, "same views after resume");
    }
}

#[test]
fn shutdown_mid_epoch_joins_every_thread() {
    let pipeline = start(Memory::new(400, &[]), DataPlan { epochs: 50, ..plan(0, 0) }, 2);
    let first = pipeline.next().unwrap().unwrap();
    assert_eq!(first.step_in_epoch, 0);
    let started = std::time::Instant::now();
    pipeline.shutdown();
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "shutdown drains promptly");
}

/// A source that counts its reads (how far the pipeline ran ahead of its reader) and, given a
/// limit, panics on reading a sample at or past it (a worker crash the pipeline must report).
struct Watched {
    inner: Memory,
    reads: Arc<std::sync::atomic::AtomicUsize>,
    panic_from: Option<usize>,
}

impl SampleSource for Watched {
    fn len(&self) -> usize {
        self.inner.len()
    }
    fn read(&self, index: usize) -> std::io::Result<(Vec<u8>, u32)> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        assert!(self.panic_from.is_none_or(|limit| index < limit), "simulated worker crash");
        self.inner.read(index)
    }
    fn describe(&self, index: usize) -> PathBuf {
        self.inner.describe(index)
    }
    fn classes(&self) -> &[String] {
        self.inner.classes()
    }
}

#[test]
fn a_crashed_worker_is_an_error_not_the_end_of_training() {
    let config = AugmentationConfig { output_size: 16, ..Default::default() };
    let context = WorkerContext {
        source: Arc::new(Watched { inner: Memory::new(40, &[]), reads: Default::default(), panic_from: Some(6) }),
        augmenter: Augmenter::new(config).unwrap(),
        decode: DecodeOptions::default(),
        seed: 5,
        view_epochs: None,
    };
    let sizing = PipelineConfig { decode_workers: 2, decoded_samples: 4, host_batches: 1, ..Default::default() };
    let pipeline = start_sized(context, plan(0, 0), &sizing);
    let outcome = std::iter::from_fn(|| pipeline.next()).find_map(Result::err);
    let error = outcome.expect("the crash surfaces as an error");
    assert!(error.to_string().contains("decode worker panicked: simulated worker crash"), "{error}");
    pipeline.shutdown();
}

#[test]
fn a_stalled_worker_is_named_and_does_not_hang_the_shutdown() {
    let config = AugmentationConfig { output_size: 16, ..Default::default() };
    let mut source = Memory::new(40, &[]);
    let stalled = epoch_order_first_batch_index(&source);
    source.stalled = Some(stalled);
    let context = WorkerContext {
        source: Arc::new(source),
        augmenter: Augmenter::new(config).unwrap(),
        decode: DecodeOptions::default(),
        seed: 5,
        view_epochs: None,
    };
    let sizing = PipelineConfig { decode_workers: 2, decoded_samples: 4, host_batches: 1, ..Default::default() };
    let pipeline = start_sized(context, plan(0, 0), &sizing);
    let outcome = pipeline.next_within(Some(std::time::Duration::from_millis(500)));
    assert!(matches!(outcome, Next::TimedOut), "the first batch holds the stalled sample: {outcome:?}");
    let busy = pipeline.stats().longest_busy().expect("the stalled worker is busy");
    assert_eq!(busy.index, stalled);
    assert!(busy.for_time >= std::time::Duration::from_millis(400));
    let started = std::time::Instant::now();
    let left = pipeline.shutdown_within(std::time::Duration::from_secs(2));
    assert_eq!(left, 1, "only the blocked worker is left behind");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

/// The dataset index at position 0 of epoch 0 (it lands in the first batch).
fn epoch_order_first_batch_index(source: &Memory) -> usize {
    epoch_order(source.len(), plan(0, 0).seed, 0)[0]
}

/// Batch memory that is never there (as page-locked memory can run out).
#[derive(Debug)]
struct NoMemory;

impl BatchMemory for NoMemory {
    fn allocate(&self, element: Element, count: usize) -> Result<HostBuffer, AllocError> {
        Err(AllocError { memory: "test memory", element, count, source: "refused".into() })
    }
}

#[test]
fn a_batch_without_memory_is_an_error_that_names_it() {
    let pipeline = start(Memory::new(12, &[]), DataPlan { memory: Arc::new(NoMemory), ..plan(0, 0) }, 2);
    let error = pipeline.next().expect("an answer, not the end").unwrap_err().to_string();
    assert_eq!(error, "epoch 0, batch 0: no memory to assemble the batch in: test memory of 3072 F32 values: refused");
    pipeline.shutdown();
}

/// An unread pipeline decodes what its capacities hold and then waits: the samples read stay within
/// (host_batches + decoded_samples / batch + 1) batches of what was taken, whatever the epoch's length.
#[test]
fn an_unread_pipeline_decodes_only_what_its_capacities_hold() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let reads = Arc::new(AtomicUsize::new(0));
    let context = WorkerContext {
        source: Arc::new(Watched { inner: Memory::new(400, &[]), reads: reads.clone(), panic_from: None }),
        augmenter: Augmenter::new(AugmentationConfig { output_size: 16, ..Default::default() }).unwrap(),
        decode: DecodeOptions::default(),
        seed: 5,
        view_epochs: None,
    };
    let sizing = PipelineConfig { decode_workers: 2, decoded_samples: 8, host_batches: 2, ..Default::default() };
    let (batch, bound_in_batches) = (4, 2 + 8 / 4 + 1);
    let pipeline = start_sized(context, plan(0, 0), &sizing);
    // Wait until the reads stop growing.
    let settled = |reads: &AtomicUsize| {
        let mut last = usize::MAX;
        loop {
            std::thread::sleep(std::time::Duration::from_millis(300));
            let now = reads.load(Ordering::SeqCst);
            if now == last {
                return now;
            }
            last = now;
        }
    };
    let ahead = settled(&reads);
    assert!(ahead >= 2 * batch, "the pipeline fills its batch queue before waiting ({ahead} reads)");
    assert!(
        ahead <= bound_in_batches * batch,
        "{ahead} samples read ahead, the capacities hold {}",
        bound_in_batches * batch
    );
    for taken in 1..=3 {
        pipeline.next().unwrap().unwrap();
        let ahead = settled(&reads);
        assert!(ahead <= (taken + bound_in_batches) * batch, "after {taken} batches taken, {ahead} samples read");
    }
    pipeline.shutdown();
}

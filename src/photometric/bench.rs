//! `lgd bench photometric`: img/s of the device-side photometric stage — the u8 host → device
//! copy, jitter in each view's order, grayscale, PIL's blur and normalisation — on batches of
//! synthetic views whose parameters are drawn as training draws them (MoCo-v2 by default). The
//! CPU half of the same data path is `lgd bench data --photometric device`.

use std::time::Instant;

use lgd_actors::batch_pixels::BatchPixels;
use lgd_datasets::augment::{AugmentationConfig, Augmenter, PhotometricPlace};
use tch::{Device, Kind, Tensor};

use super::DevicePhotometric;

/// What to measure.
#[derive(Debug, Clone)]
pub struct PhotometricBenchOptions {
    /// Where the stage runs.
    pub device: Device,
    /// Views per batch.
    pub batch: usize,
    /// Side of the views.
    pub size: usize,
    /// Timed batches (after two untimed ones).
    pub batches: usize,
}

/// The measured rate.
#[derive(Debug, Clone)]
pub struct PhotometricBenchReport {
    /// Views per second, copy included.
    pub images_per_second: f64,
    /// Milliseconds per batch.
    pub ms_per_batch: f64,
    /// The options measured.
    pub options: PhotometricBenchOptions,
}

impl std::fmt::Display for PhotometricBenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let o = &self.options;
        write!(
            f,
            "lgd photometric stage on {:?}: batch {} of {}², MoCo-v2 parameters, u8 copy included: {:.0} img/s ({:.2} ms per batch)",
            o.device, o.batch, o.size, self.images_per_second, self.ms_per_batch
        )
    }
}

/// Runs the benchmark.
pub fn run(options: &PhotometricBenchOptions) -> PhotometricBenchReport {
    let config =
        AugmentationConfig { output_size: options.size, photometric: PhotometricPlace::Device, ..Default::default() };
    let augmenter = Augmenter::new(config.clone()).expect("the default recipe is valid");
    let stage = DevicePhotometric::new(&config, options.device);
    let side = options.size as i64;
    // Photo-like content: smooth gradients plus noise, so the hue and blur see varied pixels.
    tch::manual_seed(0);
    let ramp = Tensor::arange(side, (Kind::Float, Device::Cpu)) * (200.0 / side as f64);
    let base = ramp.view([1, -1, 1, 1])
        + ramp.view([1, 1, -1, 1]) * 0.2
        + Tensor::from_slice(&[0.0f32, 30.0, 60.0]).view([1, 1, 1, 3]);
    let noise = Tensor::rand([options.batch as i64, side, side, 3], (Kind::Float, Device::Cpu)) * 50.0;
    let rgb: Vec<u8> =
        Vec::try_from((base + noise).clamp(0.0, 255.0).to_kind(Kind::Uint8).flatten(0, -1)).expect("u8 bytes");
    let batch = |b: usize| {
        BatchPixels::raw_from(
            &rgb,
            (0..options.batch).map(|i| augmenter.params_for(0, b as u64, i as u64, 500, 375)).collect(),
        )
    };
    let sync = || {
        if let Device::Cuda(index) = options.device {
            tch::Cuda::synchronize(index as i64);
        }
    };
    let batches: Vec<BatchPixels> = (0..options.batches + 2).map(batch).collect();
    for warm in &batches[..2] {
        let _ = stage.batch(warm, side);
    }
    sync();
    let start = Instant::now();
    for timed in &batches[2..] {
        let _ = stage.batch(timed, side);
    }
    sync();
    let seconds = start.elapsed().as_secs_f64();
    PhotometricBenchReport {
        images_per_second: (options.batch * options.batches) as f64 / seconds,
        ms_per_batch: 1e3 * seconds / options.batches as f64,
        options: options.clone(),
    }
}

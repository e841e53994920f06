//! `lgd bench …`: the data path, the device-side photometric stage and the training step, timed.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use lgd::config::DeviceSpec;
use lgd_datasets::augment::{AugmentationConfig, PhotometricPlace};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// img/s of read → decode → MoCo-v2 view → normalised f32 over an image folder or a packed
    /// dataset, all on the CPU.
    Data {
        /// An image folder (root/<class>/<images>) or a packed dataset (`lgd prepare pack`).
        #[arg(long)]
        data: PathBuf,
        /// Worker threads.
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Samples to process, cycling over the files (default: every file once, at least 200).
        #[arg(long)]
        images: Option<usize>,
        /// Decode every image whole at full size, as PIL does (`fast_decode = false`), instead of
        /// only the crop's window at a reduced DCT scale where the crop allows.
        #[arg(long)]
        full_decode: bool,
        /// `device`: time only the workers' part (decode, crop + resize + flip, u8 copy); jitter,
        /// grayscale, blur and normalisation run batched on the device (`lgd bench photometric`).
        /// `auto` (as training's default): `device` when this machine has a CUDA GPU, else `host`.
        #[arg(long, default_value = "auto", value_parser = ["auto", "host", "device"])]
        photometric: String,
    },
    /// img/s of the device-side photometric stage (u8 copy, jitter, grayscale, blur, normalise).
    Photometric {
        /// `cpu`, `cuda` or `cuda:N`.
        #[arg(long, default_value = "cpu")]
        device: DeviceSpec,
        /// Views per batch.
        #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
        batch: u64,
        /// Side of the views.
        #[arg(long, default_value_t = 224, value_parser = clap::value_parser!(u64).range(1..=4096))]
        size: u64,
        /// Timed batches.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
        batches: u64,
    },
    /// Write a deterministic folder of ImageNet-like JPEGs (300–640 × 240–500, ~100 KB, 4:2:0).
    MakeImages {
        /// The folder to write (class_XX/img_XXXXXX.jpg).
        #[arg(long)]
        out: PathBuf,
        /// Number of images.
        #[arg(long, default_value_t = 1000)]
        count: usize,
        /// Generator seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// img/s of the training step alone: random CLIP-shaped teacher, synthetic images on the device.
    Step {
        /// `cpu`, `cuda` or `cuda:N`.
        #[arg(long, default_value = "cpu")]
        device: DeviceSpec,
        /// Images per step.
        #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
        batch: u64,
        /// Timed steps.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
        steps: u64,
        /// Untimed steps first.
        #[arg(long, default_value_t = 10)]
        warmup: u64,
        /// Autocast dtype (fp16 only on CUDA, with the gradient scaler).
        #[arg(long, value_enum, default_value = "bf16")]
        precision: lgd::config::Autocast,
        /// channels_last inputs and student weights.
        #[arg(long)]
        channels_last: bool,
        /// Teacher shape (random weights).
        #[arg(long, value_enum, default_value = "clip-rn50")]
        teacher: lgd::bench_step::TeacherShape,
        /// Student backbone.
        #[arg(long, value_enum, default_value = "resnet18")]
        student: lgd::config::StudentArch,
        /// Categories in the banks.
        #[arg(long, default_value_t = 1000)]
        classes: i64,
        /// One JSON object on stdout instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Runs one benchmark and prints its report.
pub fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Data { data, threads, images, full_decode, photometric } => {
            let photometric = match photometric.as_str() {
                "device" => PhotometricPlace::Device,
                "host" => PhotometricPlace::Host,
                _ => {
                    let gpu = tch::Cuda::is_available();
                    let place = PhotometricPlace::Auto.resolve(gpu);
                    let why = if gpu { "a CUDA GPU is present" } else { "no CUDA GPU" };
                    println!("photometric = \"auto\" resolved to \"{}\" ({why})", place.name());
                    place
                }
            };
            let augmentation = AugmentationConfig { fast_decode: !full_decode, photometric, ..Default::default() };
            let opts = lgd_datasets::bench::BenchOptions { threads, images, augmentation, ..Default::default() };
            println!("{}", lgd_datasets::bench::run(&data, &opts)?);
        }
        BenchCommand::Photometric { device, batch, size, batches } => {
            let device = device.to_tch();
            if let tch::Device::Cuda(index) = device {
                anyhow::ensure!(
                    (index as i64) < tch::Cuda::device_count(),
                    "no CUDA device {index} (this process sees {})",
                    tch::Cuda::device_count()
                );
            }
            let options = lgd::photometric::bench::PhotometricBenchOptions {
                device,
                batch: batch as usize,
                size: size as usize,
                batches: batches as usize,
            };
            println!("{}", lgd::photometric::bench::run(&options));
        }
        BenchCommand::MakeImages { out, count, seed } => {
            let s = lgd_datasets::bench::images::make_images(&out, count, seed)?;
            println!(
                "{} JPEGs, {:.0} KB on average, in {}",
                s.files,
                s.bytes as f64 / 1024.0 / s.files.max(1) as f64,
                out.display()
            );
        }
        BenchCommand::Step {
            device,
            batch,
            steps,
            warmup,
            precision,
            channels_last,
            teacher,
            student,
            classes,
            json,
        } => {
            let options = lgd::bench_step::StepBenchOptions {
                device,
                batch: batch as usize,
                steps: steps as usize,
                warmup: warmup as usize,
                precision,
                channels_last,
                teacher,
                student,
                classes,
            };
            let report = lgd::bench_step::run(&options)?;
            if json {
                println!("{}", serde_json::to_string(&report).context("serialising the report")?);
            } else {
                println!("{report}");
            }
        }
    }
    Ok(())
}

//! The `lgd` binary: parses arguments, sets up logging, runs one command.

mod prepare_cli;

use std::path::PathBuf;
use std::process::ExitCode;

mod check_config_command;
mod error_line;
mod eval_command;
mod eval_progress;
mod launch_command;
mod train_command;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use lgd::config::DeviceSpec;
use lgd::export::ExportFormat;
use lgd::logging::{self, LogFormat};
use lgd_datasets::augment::{AugmentationConfig, PhotometricPlace};

#[derive(Parser)]
#[command(
    name = "lgd",
    version,
    about = "Language-Guided Distillation: pre-train small image models from a frozen teacher"
)]
struct Cli {
    /// Log line format on stderr.
    #[arg(long, value_enum, default_value = "text", global = true)]
    log_format: LogFormat,
    /// Log level filter (RUST_LOG overrides it).
    #[arg(long, default_value = "info", global = true)]
    log_level: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train: the long-running daemon (SIGUSR1 checkpoints, SIGTERM/SIGINT stop cleanly, SIGHUP reloads).
    ///
    /// Signals are handled from the first moment, start-up included: SIGTERM/SIGINT then stop it at
    /// its next safe point (exit 0, status `stopped` with the phase it stopped in); SIGUSR1 before
    /// the first step has its checkpoint written at the first step boundary; SIGHUP has the config
    /// re-read before the first step, under the rules of a reload. A second SIGTERM/SIGINT exits at once.
    Train {
        /// The run config (TOML).
        #[arg(long)]
        config: PathBuf,
        /// The run folder: checkpoints, metrics.jsonl, status.json, bad_samples.txt, config.toml. One that holds checkpoints goes on from the newest (`checkpoint.resume = "auto"`); a finished one trains nothing.
        #[arg(long)]
        run_dir: PathBuf,
        /// Resume even where the config or the training data differ from the checkpoint's run in
        /// what its position and tensors mean (seed, training data or its size, batch size, student
        /// architecture, teacher, text bank): go on under the new ones from the same image of the
        /// epoch. Other changes (schedule, optimiser, augmentation, …) are taken without it, logged.
        #[arg(long)]
        accept_changes: bool,
    },
    /// Start N ranks of an lgd command on this node with torchrun's environment (RANK, WORLD_SIZE,
    /// MASTER_ADDR, …); signals are forwarded to them, and the first to fail stops the others.
    Launch(launch_command::LaunchArgs),
    /// Show a run's status from RUN_DIR/status.json (live, finished, stopped or crashed).
    Status {
        /// The run folder given to `lgd train --run-dir` (also taken as `--run-dir DIR`).
        #[arg(required_unless_present = "run_dir_flag", conflicts_with = "run_dir_flag")]
        run_dir: Option<PathBuf>,
        #[arg(long = "run-dir", value_name = "RUN_DIR", hide = true)]
        run_dir_flag: Option<PathBuf>,
        /// Print status.json as written instead of the readable block.
        #[arg(long)]
        json: bool,
    },
    /// Validate a run config; print it with every default filled in, or every problem found; warn of the data, weights and lists it names that are missing here.
    CheckConfig {
        /// The TOML file (also taken as `--config FILE`, as `lgd train` takes it).
        #[arg(required_unless_present = "config", conflicts_with = "config")]
        file: Option<PathBuf>,
        #[arg(long, value_name = "FILE", hide = true)]
        config: Option<PathBuf>,
    },
    /// Compute the text bank T from a CLIP checkpoint, class names and prompt templates (cached).
    Bank {
        /// The CLIP checkpoint (OpenAI archive, open_clip state dict, safetensors).
        #[arg(long)]
        teacher: PathBuf,
        /// A built-in list (`imagenet`, `caltech256`, …) or a file with one name per line.
        #[arg(long, default_value = "imagenet")]
        classnames: String,
        /// Built-in `openai_imagenet` or a file with one template (with `{}`) per line.
        #[arg(long, default_value = "openai_imagenet")]
        templates: String,
        /// The bank file to write (safetensors).
        #[arg(long)]
        out: PathBuf,
        /// Prompts embedded per batch.
        #[arg(long, default_value_t = 256)]
        batch: usize,
        /// `cpu`, `cuda` or `cuda:N`.
        #[arg(long, default_value = "cpu")]
        device: DeviceSpec,
    },
    /// Measure a student: k-NN, linear probe, zero-shot, teacher agreement.
    #[command(subcommand)]
    Eval(eval_command::EvalCommand),
    /// Dataset tools: pack, verify, IDX conversion, Caltech split, ImageNet subset, class names.
    Prepare {
        #[command(subcommand)]
        command: prepare_cli::Prepare,
    },
    /// Show which libtorch this binary loaded and which devices it sees (JSON).
    Info,
    /// Benchmarks of the data path and of the training step (see README).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Write a student from a checkpoint (any format lgd reads) in another layout.
    Export {
        /// A run folder (its newest checkpoint that verifies), an `lgd train` checkpoint
        /// (`RUN/checkpoints/step-….safetensors`, `best.safetensors`), or any weight file lgd reads
        /// (the original LGD's .pth.tar, a torchvision state dict, safetensors).
        checkpoint: PathBuf,
        /// The output layout (mmdet/mmseg take ResNet-18/34/50 and MobileNetV2 students).
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// The output file.
        #[arg(long)]
        out: PathBuf,
        /// Keep the LGD projection head too, as `lgd_head.*` (beside `state_dict` for mmdet/mmseg).
        #[arg(long)]
        head: bool,
    },
    /// Download one of OpenAI's CLIP checkpoints (resumable; SHA-256 verified).
    FetchClip {
        /// RN50, RN101, RN50x4, RN50x16, RN50x64, ViT-B/32, ViT-B/16, ViT-L/14, ViT-L/14@336px (or ViT-B-32, …).
        #[arg(required_unless_present = "url")]
        model: Option<String>,
        /// The folder to write <model>.pt into.
        #[arg(long)]
        out: PathBuf,
        /// Another address ending in <sha256>/<file> (tests).
        #[arg(long, hide = true)]
        url: Option<String>,
    },
    /// Draw a run's metrics.jsonl as a PNG: loss parts, learning rate, img/s, validation.
    Plot {
        /// The run folder (holds metrics.jsonl; also taken as `--run-dir DIR`).
        #[arg(required_unless_present = "run_dir_flag", conflicts_with = "run_dir_flag")]
        run_dir: Option<PathBuf>,
        #[arg(long = "run-dir", value_name = "RUN_DIR", hide = true)]
        run_dir_flag: Option<PathBuf>,
        /// The PNG to write [default: RUN_DIR/curves.png].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Width in pixels.
        #[arg(long, default_value_t = 1600)]
        width: u32,
        /// Height in pixels.
        #[arg(long, default_value_t = 1000)]
        height: u32,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
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

fn main() -> ExitCode {
    let cli = Cli::from_arg_matches(&command().get_matches()).unwrap_or_else(|error| error.exit());
    if let Err(error) = logging::init(cli.log_format, &cli.log_level) {
        eprintln!("error: {error}");
        return ExitCode::from(2);
    }
    match run(cli.command, cli.log_format, &cli.log_level) {
        Ok(code) => code,
        Err(error) => {
            tracing::error!("{}", error_line::one_line(&error));
            ExitCode::FAILURE
        }
    }
}

/// The CLI, its global options listed once (in `lgd --help`): clap would repeat them in every
/// subcommand's help. Each subcommand gets a hidden copy, which clap then leaves in place of its
/// own, so they are still taken before or after any subcommand.
fn command() -> clap::Command {
    let command = Cli::command();
    let globals: Vec<clap::Arg> = command.get_arguments().filter(|arg| arg.is_global_set()).cloned().collect();
    hide_in_subcommands(command, &globals)
}

fn hide_in_subcommands(command: clap::Command, globals: &[clap::Arg]) -> clap::Command {
    command.mut_subcommands(|sub| {
        let sub = globals.iter().fold(sub, |sub, arg| sub.arg(arg.clone().hide(true)));
        hide_in_subcommands(sub, globals)
    })
}

fn run(command: Command, log_format: LogFormat, log_level: &str) -> anyhow::Result<ExitCode> {
    match command {
        Command::Train { config, run_dir, accept_changes } => {
            train_command::run(&config, &run_dir, accept_changes, log_format)?
        }
        Command::Launch(args) => return launch_command::run(args, log_format, log_level),
        Command::Status { run_dir, run_dir_flag, json } => {
            let run_dir = run_dir.or(run_dir_flag).expect("clap requires one of them");
            print!("{}", lgd::status_server::report::report(&run_dir, json)?)
        }
        Command::CheckConfig { file, config } => {
            let file = file.or(config).expect("clap requires one of them");
            return check_config_command::run(&file);
        }
        Command::Export { checkpoint, format, out, head } => {
            for line in lgd::export::export(&checkpoint, format, &out, head)?.lines() {
                tracing::info!("{line}");
            }
        }
        Command::Bank { teacher, classnames, templates, out, batch, device } => {
            text_bank(&teacher, &classnames, &templates, &out, batch, device)?;
        }
        Command::Eval(command) => eval_command::run(command)?,
        Command::Prepare { command } => prepare_cli::run(command)?,
        Command::Bench(BenchCommand::Data { data, threads, images, full_decode, photometric }) => {
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
        Command::Bench(BenchCommand::Photometric { device, batch, size, batches }) => {
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
        Command::Bench(BenchCommand::MakeImages { out, count, seed }) => {
            let s = lgd_datasets::bench::images::make_images(&out, count, seed)?;
            println!(
                "{} JPEGs, {:.0} KB on average, in {}",
                s.files,
                s.bytes as f64 / 1024.0 / s.files.max(1) as f64,
                out.display()
            );
        }
        Command::Bench(BenchCommand::Step {
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
        }) => {
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
        Command::FetchClip { model, out, url } => fetch_clip(model.as_deref(), url.as_deref(), &out)?,
        Command::Plot { run_dir, run_dir_flag, out, width, height } => {
            let run_dir = run_dir.or(run_dir_flag).expect("clap requires one of them");
            let out = out.unwrap_or_else(|| run_dir.join("curves.png"));
            let s = lgd::plot::plot(&run_dir, &out, width, height)?;
            tracing::info!(out = %out.display(), training = s.training, validation = s.validation, malformed = s.malformed, "plot written");
        }
        Command::Info => {
            let info = lgd::runtime_info::collect();
            println!("{}", serde_json::to_string_pretty(&info).context("serialising runtime info")?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `lgd fetch-clip`: the published checkpoint (or the `--url` one), unless already there and verified.
fn fetch_clip(model: Option<&str>, url: Option<&str>, out: &std::path::Path) -> anyhow::Result<()> {
    use lgd::fetch_clip::{fetch, lookup, Source};
    let source = match (url, model) {
        (Some(url), _) => Source::from_url(url)?,
        (None, Some(model)) => lookup(model)?,
        (None, None) => anyhow::bail!("name a model (or --url)"),
    };
    let fetched = fetch(&source, out)?;
    let path = fetched.path.display();
    if fetched.already_present {
        tracing::info!("{path} is already present with the published SHA-256 {}; nothing to do", source.sha256);
    } else {
        tracing::info!(
            bytes = fetched.bytes,
            resumed_from = fetched.resumed_from,
            "{path} downloaded; SHA-256 {} verified",
            source.sha256
        );
    }
    Ok(())
}

/// `lgd bank`: reuse a cached bank for the same (teacher, names, templates), else compute it.
fn text_bank(
    teacher: &std::path::Path,
    classnames: &str,
    templates: &str,
    out: &std::path::Path,
    batch: usize,
    device: DeviceSpec,
) -> anyhow::Result<()> {
    use lgd::models::clip::prompt_bank::{cache_key, cached_bank, compute_text_bank, save_with_key};
    use lgd::models::clip::{Clip, ClipTokenizer, LoadOptions};
    use lgd_datasets::classnames::{ClassNames, Templates};

    let names = ClassNames::resolve(classnames)?;
    let templates = Templates::resolve(templates)?;
    for (name, classes) in names.duplicates() {
        tracing::warn!(%name, ?classes, "class name repeated: those bank columns will be identical");
    }
    let key = cache_key(teacher, &names, &templates)?;
    if cached_bank(out, &key, names.len()).is_some() {
        tracing::info!(out = %out.display(), "text bank is up to date for this teacher, names and templates");
        return Ok(());
    }
    let clip = Clip::load(teacher, LoadOptions { device: device.to_tch(), ..Default::default() })?;
    let tokenizer = ClipTokenizer::load(None)?;
    let total = names.len() * templates.templates().len();
    let bar = indicatif::ProgressBar::new(total as u64).with_message("prompts embedded");
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} ({eta} left)")
            .context("progress bar template")?,
    );
    let bank = compute_text_bank(&clip, &tokenizer, &names, &templates, batch, |done, _| {
        bar.set_position(done as u64);
        std::ops::ControlFlow::Continue(())
    })?;
    bar.finish_and_clear();
    save_with_key(&bank, out, &key)?;
    tracing::info!(out = %out.display(), classes = bank.classes(), dim = bank.dim(), "text bank written");
    Ok(())
}

//! The `lgd` binary: parses arguments, sets up logging, runs one command.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use lgd::config::DeviceSpec;
use lgd::logging::{self, LogFormat};

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
    /// With `run.requeue`, its signal (USR1 unless `run.requeue_signal` says USR2) checkpoints, stops
    /// and has the Slurm job requeued (`scontrol requeue`), then exits 0.
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
    Launch(cli::launch::LaunchArgs),
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
    Eval(cli::eval::EvalCommand),
    /// Dataset tools: pack, verify, IDX conversion, Caltech split, ImageNet subset, class names.
    Prepare {
        #[command(subcommand)]
        command: cli::prepare::Prepare,
    },
    /// Show which libtorch this binary loaded and which devices it sees (JSON).
    Info,
    /// Benchmarks of the data path and of the training step (see README).
    #[command(subcommand)]
    Bench(cli::bench::BenchCommand),
    /// Write a student from a checkpoint (any format lgd reads) in another layout.
    Export(cli::export::ExportArgs),
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

fn main() -> ExitCode {
    let cli = Cli::from_arg_matches(&command().get_matches()).unwrap_or_else(|error| error.exit());
    if let Err(error) = logging::init(cli.log_format, &cli.log_level) {
        eprintln!("error: {error}");
        return ExitCode::from(2);
    }
    match run(cli.command, cli.log_format, &cli.log_level) {
        Ok(code) => code,
        Err(error) => {
            tracing::error!("{}", cli::error_line::one_line(&error));
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
            cli::train::run(&config, &run_dir, accept_changes, log_format)?
        }
        Command::Launch(args) => return cli::launch::run(args, log_format, log_level),
        Command::Status { run_dir, run_dir_flag, json } => {
            let run_dir = run_dir.or(run_dir_flag).expect("clap requires one of them");
            print!("{}", lgd::status_server::report::report(&run_dir, json)?)
        }
        Command::CheckConfig { file, config } => {
            let file = file.or(config).expect("clap requires one of them");
            return cli::check_config::run(&file);
        }
        Command::Export(args) => cli::export::run(args)?,
        Command::Bank { teacher, classnames, templates, out, batch, device } => {
            cli::text_bank::run(&teacher, &classnames, &templates, &out, batch, device)?;
        }
        Command::Eval(command) => cli::eval::run(command)?,
        Command::Prepare { command } => cli::prepare::run(command)?,
        Command::Bench(command) => cli::bench::run(command)?,
        Command::FetchClip { model, out, url } => cli::fetch_clip::run(model.as_deref(), url.as_deref(), &out)?,
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

//! The `lgd` binary: parses arguments, sets up logging, runs one command.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use lgd::config::Config;
use lgd::export::ExportFormat;
use lgd::logging::{self, LogFormat};

#[derive(Parser)]
#[command(name = "lgd", version, about = "Language-Guided Distillation: pre-train small image models from a frozen teacher")]
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
    /// Validate a run config; print it with every default filled in, or every problem found.
    CheckConfig {
        /// The TOML file.
        file: PathBuf,
    },
    /// Show which libtorch this binary loaded and which devices it sees (JSON).
    Info,
    /// Write a student from a checkpoint (any format lgd reads) in another layout.
    Export {
        /// The checkpoint: safetensors, torch.save zip/legacy, LGD training checkpoint.
        checkpoint: PathBuf,
        /// The output layout.
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// The output file.
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(error) = logging::init(cli.log_format, &cli.log_level) {
        eprintln!("error: {error}");
        return ExitCode::from(2);
    }
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::CheckConfig { file } => {
            let config = Config::load(&file)?;
            print!("{}", config.to_toml());
            tracing::info!(file = %file.display(), scaled_lr = config.scaled_lr(), "config is valid");
        }
        Command::Export { checkpoint, format, out } => {
            let summary = lgd::export::export(&checkpoint, format, &out)?;
            tracing::info!(out = %out.display(), written = summary.written, left_out = summary.left_out, "exported");
        }
        Command::Info => {
            let info = lgd::runtime_info::collect();
            println!("{}", serde_json::to_string_pretty(&info).context("serialising runtime info")?);
        }
    }
    Ok(())
}

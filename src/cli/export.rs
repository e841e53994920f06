//! `lgd export …` at the binary edge: its arguments, and the report of what was written.

use std::path::PathBuf;

use clap::Args;
use lgd::export::ExportFormat;

/// What to export, in which layout, to which file.
#[derive(Args)]
pub struct ExportArgs {
    /// A run folder (its newest checkpoint that verifies), an `lgd train` checkpoint
    /// (`RUN/checkpoints/step-….safetensors`, `best.safetensors`), or any weight file lgd reads
    /// (the original LGD's .pth.tar, a torchvision state dict, safetensors).
    pub checkpoint: PathBuf,
    /// The output layout (mmdet/mmseg take ResNet-18/34/50 and MobileNetV2 students).
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// The output file.
    #[arg(long)]
    pub out: PathBuf,
    /// Keep the LGD projection head too, as `lgd_head.*` (beside `state_dict` for mmdet/mmseg).
    #[arg(long)]
    pub head: bool,
}

/// Writes the export and logs what it left out and the line that loads it.
pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    for line in lgd::export::export(&args.checkpoint, args.format, &args.out, args.head)?.lines() {
        tracing::info!("{line}");
    }
    Ok(())
}

//! `lgd plot`: a run's `metrics.jsonl` drawn as one PNG of training curves, so a run can be
//! judged at a glance without Python.
//!
//! - [`records`]: the JSON lines read into per-step series; malformed lines reported, not fatal.
//! - `font`: the TTF file the text is drawn with (plotters' own font discovery needs fontconfig).
//! - `draw`: the panels, drawn into memory and written as PNG.

mod draw;
mod font;
pub mod records;

use std::path::{Path, PathBuf};

pub use font::FontError;
pub use records::Curves;

/// Why a plot could not be made; each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// `metrics.jsonl` missing or unreadable.
    #[error("{path}: {source}; a run folder is what `lgd train --run-dir` writes")]
    Read {
        /// The metrics file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A metrics file with nothing to draw.
    #[error("{path} holds no training or validation records ({malformed} malformed lines): nothing to plot yet")]
    Empty {
        /// The metrics file.
        path: PathBuf,
        /// Lines that could not be read.
        malformed: usize,
    },
    /// No font for the labels.
    #[error("no font for the plot's text: {0}")]
    Font(#[from] font::FontError),
    /// plotters failed to draw.
    #[error("drawing the plot: {0}")]
    Draw(String),
    /// The PNG could not be encoded or written.
    #[error("{path}: {reason}")]
    Write {
        /// The output file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
}

/// What [`plot`] drew.
#[derive(Debug, Clone)]
pub struct PlotSummary {
    /// Training records drawn (one per step; a resumed run's repeated steps count once).
    pub training: usize,
    /// Validation records drawn.
    pub validation: usize,
    /// Lines skipped as malformed.
    pub malformed: usize,
    /// The font file the text was drawn with.
    pub font: PathBuf,
}

/// Reads `run_dir/metrics.jsonl` and writes the curves to `out` (PNG, `width` × `height`).
pub fn plot(run_dir: &Path, out: &Path, width: u32, height: u32) -> Result<PlotSummary, PlotError> {
    let path = run_dir.join("metrics.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|source| PlotError::Read { path: path.clone(), source })?;
    let curves = Curves::parse(&text);
    for bad in &curves.malformed {
        tracing::warn!("{}:{}: skipped: {}", path.display(), bad.line, bad.reason);
    }
    if curves.training.is_empty() && curves.validation.is_empty() {
        return Err(PlotError::Empty { path, malformed: curves.malformed.len() });
    }
    let font = font::register()?;
    let title = run_dir
        .canonicalize()
        .ok()
        .and_then(|dir| dir.file_name().map(|name| name.to_string_lossy().into_owned()))
        .unwrap_or_else(|| run_dir.display().to_string());
    let pixels = draw::render(&curves, &title, width, height)?;
    draw::write_png(out, &pixels, width, height)?;
    Ok(PlotSummary {
        training: curves.training.len(),
        validation: curves.validation.len(),
        malformed: curves.malformed.len(),
        font,
    })
}

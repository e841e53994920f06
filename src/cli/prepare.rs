//! `lgd prepare …`: the dataset tools on the command line. Each subcommand only parses its
//! arguments, drives a progress bar and calls one function of `lgd_datasets`; the work, and the
//! errors naming the file or folder at fault, live there.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use lgd_datasets::classnames::ClassNames;
use lgd_datasets::idx::IdxSource;
use lgd_datasets::packed::{self, Chroma, Encoding, FolderSource, PackOptions, PackSummary, SampleSource};
use lgd_datasets::tools::{self, Placement};

#[derive(Subcommand)]
pub enum Prepare {
    /// Pack an image folder (root/<class>/<images>) into memory-mapped shards with a checksummed
    /// index. Run the same command again to resume an interrupted pack.
    Pack {
        /// The image folder.
        src: PathBuf,
        /// The output folder.
        out: PathBuf,
        /// Re-encode as JPEG with the longer side at most this many pixels (FFCV-style).
        #[arg(long)]
        max_side: Option<u32>,
        /// Re-encode as JPEG at this quality (1–100; 90 when only --max-side is given).
        #[arg(long)]
        quality: Option<u8>,
        /// Re-encode as JPEG with this chroma resolution: 420 (the default when re-encoding:
        /// colour planes at half width and height, as cameras and FFCV write) or 444 (full).
        #[arg(long, value_enum)]
        chroma: Option<ChromaArg>,
        /// Close a shard before it grows past this size (bytes; K, M, G suffixes allowed).
        #[arg(long, default_value = "256M", value_parser = parse_bytes)]
        shard_size: u64,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Largest width·height an image may declare; larger ones are skipped (decompression-bomb guard).
        #[arg(long, default_value_t = lgd_datasets::decode::DEFAULT_MAX_PIXELS)]
        max_pixels: u64,
        /// Test hook: abort the process (no clean-up, as a kill) after this many samples.
        #[arg(long, hide = true)]
        abort_after: Option<usize>,
    },
    /// Check every sample of a packed dataset against its checksum; exit 1 naming the bad ones.
    Verify {
        /// The packed dataset folder.
        dir: PathBuf,
    },
    /// Convert IDX files (Fashion-MNIST; plain or .gz) into a packed dataset or an image folder.
    Idx {
        /// The images file (…-images-idx3-ubyte[.gz]).
        images: PathBuf,
        /// The labels file (…-labels-idx1-ubyte[.gz]).
        labels: PathBuf,
        /// The output folder.
        out: PathBuf,
        /// Class names: a built-in list (`fashion_mnist`) or a file with one name per line.
        #[arg(long)]
        classnames: String,
        /// What to write.
        #[arg(long, value_enum, default_value = "packed")]
        format: IdxFormat,
        /// Shard size for --format packed (bytes; K, M, G suffixes allowed).
        #[arg(long, default_value = "256M", value_parser = parse_bytes)]
        shard_size: u64,
    },
    /// Caltech-256 split: the first N category folders, M random training images per class, the
    /// rest validation, as OUT/train and OUT/val (symbolic links unless --copy).
    CaltechSplit {
        /// The category folders (256_ObjectCategories).
        src: PathBuf,
        /// The output folder (must be new or empty).
        out: PathBuf,
        /// Training images per class.
        #[arg(long, default_value_t = 60)]
        train_per_class: usize,
        /// Category folders used, in sorted order (256 leaves out 257.clutter).
        #[arg(long, default_value_t = 256)]
        classes: usize,
        /// Seed of the random choice.
        #[arg(long)]
        seed: u64,
        /// Copy the files instead of linking them.
        #[arg(long)]
        copy: bool,
    },
    /// ImageNet subset: M random images of every class folder, as OUT/<class>/ (symbolic links
    /// unless --copy).
    ImagenetSubset {
        /// The class folders (ImageNet train/).
        src: PathBuf,
        /// The output folder (must be new or empty).
        out: PathBuf,
        /// Images per class.
        #[arg(long)]
        per_class: usize,
        /// Seed of the random choice.
        #[arg(long)]
        seed: u64,
        /// Copy the files instead of linking them.
        #[arg(long)]
        copy: bool,
    },
    /// Write the category names of SRC's sub-folders (Caltech rules: "001.ak47" → "ak47", a
    /// trailing "-101" dropped, '-' → ' '), one per line, for --classnames.
    Classnames {
        /// The folder whose sub-folders are the categories.
        src: PathBuf,
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
    },
}

/// What `lgd prepare idx` writes.
/// `--chroma` values.
#[derive(Clone, Copy, ValueEnum)]
pub enum ChromaArg {
    /// 4:2:0: colour planes at half width and height.
    #[value(name = "420")]
    Yuv420,
    /// 4:4:4: colour planes at full resolution.
    #[value(name = "444")]
    Yuv444,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum IdxFormat {
    /// A packed dataset (PNG-encoded samples).
    Packed,
    /// An image folder OUT/<NN.class>/<index>.png.
    Folder,
}

/// `256M` → 268435456; plain numbers are bytes.
fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, shift) = match text.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&text[..text.len() - 1], 10),
        Some('M') => (&text[..text.len() - 1], 20),
        Some('G') => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    let n: u64 = digits.parse().map_err(|_| format!("`{text}` is not a size (e.g. 1048576, 512K, 256M, 1G)"))?;
    n.checked_mul(1 << shift).filter(|&n| n > 0).ok_or_else(|| format!("`{text}` must be between 1 byte and 16 EiB"))
}

fn bar(len: u64, what: &str) -> anyhow::Result<indicatif::ProgressBar> {
    let bar = indicatif::ProgressBar::new(len).with_message(what.to_owned());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} ({per_sec}, {eta} left)")
            .context("progress bar template")?,
    );
    Ok(bar)
}

/// Runs one `lgd prepare` subcommand.
pub fn run(command: Prepare) -> anyhow::Result<()> {
    match command {
        Prepare::Pack { src, out, max_side, quality, chroma, shard_size, threads, max_pixels, abort_after } => {
            let encoding = match (max_side, quality, chroma) {
                (None, None, None) => Encoding::Original,
                (max_side, quality, chroma) => Encoding::Jpeg {
                    max_side: max_side.unwrap_or(0),
                    quality: quality.unwrap_or(90),
                    chroma: match chroma {
                        Some(ChromaArg::Yuv444) => Chroma::Yuv444,
                        Some(ChromaArg::Yuv420) | None => Chroma::Yuv420,
                    },
                },
            };
            let decode = lgd_datasets::decode::DecodeOptions { max_pixels };
            let mut options = PackOptions { shard_size, encoding, decode, ..Default::default() };
            options.threads = threads.unwrap_or(options.threads);
            let source = FolderSource::open(&src)?;
            pack(&source, &out, &options, abort_after)?;
        }
        Prepare::Verify { dir } => {
            let bar = bar(0, "samples checked")?;
            let report = packed::verify(&dir, &mut |done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            })?;
            bar.finish_and_clear();
            for shard in &report.bad_shards {
                println!(
                    "shard {}: {} bytes, the index recorded {}",
                    shard.path.display(),
                    shard.actual,
                    shard.expected
                );
            }
            for bad in &report.bad {
                println!("sample {} ({}): {}", bad.index, bad.path, bad.problem);
            }
            anyhow::ensure!(
                report.is_ok(),
                "{}: {} of {} samples are damaged (listed above)",
                dir.display(),
                report.bad.len(),
                report.samples
            );
            tracing::info!(dir = %dir.display(), samples = report.samples, bytes = report.bytes, "every sample matches its checksum");
        }
        Prepare::Idx { images, labels, out, classnames, format, shard_size } => {
            let names = ClassNames::resolve(&classnames)?;
            let source = IdxSource::open(&images, &labels, names.names().to_vec())?;
            match format {
                IdxFormat::Packed => pack(&source, &out, &PackOptions { shard_size, ..Default::default() }, None)?,
                IdxFormat::Folder => {
                    let bar = bar(source.len() as u64, "images written")?;
                    let n = source.write_folder(&out, &mut |done, _| bar.set_position(done as u64))?;
                    bar.finish_and_clear();
                    tracing::info!(out = %out.display(), images = n, classes = names.len(), "image folder written");
                }
            }
        }
        Prepare::CaltechSplit { src, out, train_per_class, classes, seed, copy } => {
            let how = if copy { Placement::Copy } else { Placement::Link };
            let s = tools::caltech_split(&src, &out, classes, train_per_class, seed, how)?;
            tracing::info!(out = %out.display(), classes = s.classes, train = s.train, val = s.val, "Caltech split written");
        }
        Prepare::ImagenetSubset { src, out, per_class, seed, copy } => {
            let how = if copy { Placement::Copy } else { Placement::Link };
            let s = tools::imagenet_subset(&src, &out, per_class, seed, how)?;
            for (class, n) in &s.short_classes {
                tracing::warn!(%class, images = n, per_class, "class has fewer images than asked for: all taken");
            }
            tracing::info!(out = %out.display(), classes = s.classes, images = s.train, "subset written");
        }
        Prepare::Classnames { src, out } => {
            let names = tools::write_classnames(&src, &out)?;
            tracing::info!(out = %out.display(), classes = names.len(), "class names written");
        }
    }
    Ok(())
}

/// Packs with a progress bar and reports what was skipped.
fn pack(
    source: &dyn SampleSource,
    out: &Path,
    options: &PackOptions,
    abort_after: Option<usize>,
) -> anyhow::Result<()> {
    let bar = bar(source.len() as u64, "samples")?;
    let mut started_at = None;
    let summary: PackSummary = packed::pack(source, out, options, &mut |p| {
        let start = *started_at.get_or_insert(p.done);
        if abort_after.is_some_and(|n| p.done - start >= n) {
            std::process::abort();
        }
        bar.set_position(p.done as u64);
        bar.set_message(format!("samples ({} skipped)", p.skipped));
    })?;
    bar.finish_and_clear();
    const SHOWN: usize = 20;
    for s in summary.skipped.iter().take(SHOWN) {
        tracing::warn!("skipped: {}", s.reason);
    }
    if summary.skipped.len() > SHOWN {
        tracing::warn!("… and {} more skipped samples", summary.skipped.len() - SHOWN);
    }
    for class in &summary.empty_classes {
        tracing::warn!(%class, "class left empty: every one of its files was skipped, so the pack has no sample of it");
    }
    tracing::info!(
        out = %out.display(),
        samples = summary.samples,
        shards = summary.shards,
        bytes = summary.bytes,
        skipped = summary.skipped.len(),
        resumed_at = summary.resumed_at,
        "packed (skipped samples are listed in {})",
        out.join(packed::pack::SKIPPED_FILE).display()
    );
    Ok(())
}

//! `lgd-datasets`: everything between files on disk and u8 crops, with no libtorch.
//!
//! Module map:
//! - [`classnames`]: category-name lists and prompt templates (built-in copies and user files).
//! - [`rgb`]: the 8-bit RGB image buffer every stage below passes along.
//! - [`decode`]: image bytes → RGB as PIL's `convert("RGB")`, with the decompression-bomb guard.
//! - [`image_folder`]: `root/<class>/*` datasets indexed in torchvision `ImageFolder` order.
//! - [`packed`]: the memory-mapped packed format (shards + checksummed index), its builder and verifier.
//! - [`records`]: the one-line-per-file reports of unusable files (`bad_samples.txt`, `skipped.txt`).
//! - [`idx`]: IDX files (Fashion-MNIST) as a pack source or an image folder.
//! - [`tools`]: the original's dataset tools (Caltech-256 split, ImageNet subset, class names from folders).
//! - [`augment`]: torchvision-exact training (MoCo v1/v2, SimCLR, SwAV) and evaluation transforms,
//!   replayable per sample.
//! - [`training_view`]: bytes → one view's pixels and parameters, decoding only what the crop needs.
//! - [`bench`]: throughput of the CPU view path (`lgd bench data`) and the benchmark image generator.
#![warn(missing_docs)]

pub mod augment;
pub mod bench;
pub mod classnames;
pub mod decode;
pub mod guidance;
pub mod idx;
pub mod image_folder;
pub mod packed;
pub mod records;
pub mod rgb;
pub mod tools;
pub mod training_view;

pub use rgb::RgbImage;

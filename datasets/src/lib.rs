//! `lgd-datasets`: everything between files on disk and u8 crops, with no libtorch.
//!
//! Module map:
//! - [`classnames`]: category-name lists and prompt templates (built-in copies and user files).
//! - [`rgb`]: the 8-bit RGB image buffer every stage below passes along.
//! - [`decode`]: image bytes → RGB as PIL's `convert("RGB")`, with the decompression-bomb guard.
//! - [`image_folder`]: `root/<class>/*` datasets indexed in torchvision `ImageFolder` order.
//! - [`augment`]: torchvision-exact training (MoCo-v2) and evaluation transforms, replayable per sample.
//! - [`bench`]: throughput of the CPU view path (`lgd bench data`) and the benchmark image generator.
#![warn(missing_docs)]

pub mod augment;
pub mod bench;
pub mod classnames;
pub mod decode;
pub mod image_folder;
pub mod rgb;

pub use rgb::RgbImage;

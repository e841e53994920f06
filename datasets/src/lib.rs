//! `lgd-datasets`: everything between files on disk and u8 crops, with no libtorch.
//!
//! Module map:
//! - [`classnames`]: category-name lists and prompt templates (built-in copies and user files).
#![warn(missing_docs)]

pub mod classnames;

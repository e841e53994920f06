//! `lgd-actors`: the stages of a training step as actors on bounded channels.
//!
//! Module map:
//! - [`pipeline_config`]: how many decode workers run and how deep each channel between stages is —
//!   the numbers that bound the pipeline's memory.
#![warn(missing_docs)]

pub mod pipeline_config;

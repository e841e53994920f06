//! The binary's commands, one file each: their arguments (clap), progress and reports; the work is
//! the library's. Only this folder and `main.rs` use anyhow.

pub mod bench;
pub mod check_config;
pub mod error_line;
pub mod eval;
pub mod export;
pub mod fetch_clip;
pub mod launch;
pub mod prepare;
pub mod progress_bar;
pub mod text_bank;
pub mod train;

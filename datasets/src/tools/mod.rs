//! The dataset tools of the original (DESIGN §1), seeded and deterministic:
//! - [`split`]: the Caltech-256 m-shot train/val split and the ImageNet m-per-class subset.
//! - [`names`]: category names from folder names, with the Caltech rules.
//! - [`place`]: putting a chosen file into the output tree (symbolic link or copy).
//! - [`error`]: the errors, [`ToolError`].

pub mod error;
pub mod names;
pub mod place;
pub mod split;

pub use error::ToolError;
pub use names::{caltech_name, classnames_from_folders, write_classnames};
pub use place::Placement;
pub use split::{caltech_split, imagenet_subset, SplitSummary};

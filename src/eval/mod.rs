//! Measuring students: validation during training (teacher agreement, zero-shot top-1).

pub mod validation;

pub use validation::{Validation, ValidationSet};

//! Measuring students: validation during training (teacher agreement, zero-shot top-1), k-NN and
//! the linear probe on frozen features, and top-k scoring.

pub mod augmented_probe;
mod error;
pub mod feature_groups;
pub mod knn;
pub mod lbfgs;
pub mod linear_probe;
pub mod logistic_regression;
pub mod measure;
pub mod metrics;
pub mod validation;

pub use error::EvalError;
pub use validation::{Validation, ValidationSet};

//! Training maths that owns its state (so checkpoints can hold all of it): the SGD update, the
//! learning-rate schedule and the fp16 gradient scaler — and the step that uses them.

pub mod bank_stage;
pub mod grad_scaler;
pub mod lr_schedule;
pub mod position;
pub mod sgd;
pub mod trainer;
mod trainer_error;

pub use grad_scaler::GradScaler;
pub use lr_schedule::LrSchedule;
pub use position::Position;
pub use sgd::{MomentumError, Sgd, SgdConfig};
pub use trainer::{teacher_keys, StepReport, Trainer};
pub use trainer_error::TrainerError;

//! The LGD objective, exactly DESIGN §1: the fixed textual semantics bank T, the visual semantics
//! bank V maintained by language-guided knowledge aggregation (LGKA), the two logit sets and the
//! soft cross-entropy between student and teacher distributions over them.
//!
//! One training step uses the banks as they were before the step (`LgdLoss::compute`), then feeds the
//! step's teacher keys, gathered from every rank, to `VisualBank::update`.

mod error;
mod loss;
mod text_bank;
mod visual_bank;

pub use error::BankError;
pub use loss::{normalize_rows, soft_cross_entropy, LgdLoss, LgdTargets, LgdTerms};
pub use text_bank::TextBank;
pub use visual_bank::VisualBank;

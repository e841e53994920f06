//! Why a trainer could not be built, restored or stepped.

use lgd_actors::actor_error::ActorError;

use super::MomentumError;
use crate::distributed::DistributedError;
use crate::models::state_dict::StateDictError;
use crate::objective::BankError;
use crate::torch_ext::TorchExtError;

/// Why a trainer could not be built or restored.
#[derive(Debug, thiserror::Error)]
pub enum TrainerError {
    /// Saved weights do not fit the student.
    #[error(transparent)]
    Weights(#[from] StateDictError),
    /// A bank is inconsistent.
    #[error(transparent)]
    Bank(#[from] BankError),
    /// The OS refused bank maintenance its thread.
    #[error("starting bank maintenance: {0}")]
    BankStart(#[source] std::io::Error),
    /// Bank maintenance failed or stopped.
    #[error(transparent)]
    BankMaintenance(#[from] ActorError),
    /// Autocast or channels_last could not be set up, or a fused optimiser kernel failed.
    #[error(transparent)]
    Precision(#[from] TorchExtError),
    /// Saved optimiser state does not fit.
    #[error("checkpoint optimiser state: {0}")]
    Optimizer(#[source] MomentumError),
    /// libtorch's backward pass threw.
    #[error("backward: {0}")]
    Backward(String),
    /// A collective of data-parallel training failed.
    #[error(transparent)]
    Distributed(#[from] DistributedError),
}

//! Why an actor gave no answer, naming the actor: its work failed (the error, its source chain
//! kept), it panicked, or it had already stopped. Cheap to clone: an actor that failed keeps its
//! error and answers every later request with it.

use std::error::Error;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// An actor's failure; every variant names the actor (as in "student optimisation").
#[derive(Debug, Clone, thiserror::Error)]
pub enum ActorError {
    /// Its work returned an error.
    #[error("{actor}: {source}")]
    Failed {
        /// The actor.
        actor: &'static str,
        /// The work's error.
        #[source]
        source: Arc<dyn Error + Send + Sync>,
    },
    /// Its work panicked, with this message.
    #[error("{actor} panicked: {message}")]
    Panicked {
        /// The actor.
        actor: &'static str,
        /// What the panic said.
        message: String,
    },
    /// It refused: an earlier failure left its state of unknown consistency.
    #[error("{actor} is unusable after {}", what_happened(after))]
    Unusable {
        /// The actor.
        actor: &'static str,
        /// The failure that made it so.
        after: Arc<ActorError>,
    },
    /// It had stopped (or was stopped) before it could answer.
    #[error("the {actor} has stopped")]
    Stopped {
        /// The actor.
        actor: &'static str,
    },
}

impl ActorError {
    /// `source`, the error of `actor`'s work.
    pub fn failed(actor: &'static str, source: impl Error + Send + Sync + 'static) -> Self {
        Self::Failed { actor, source: Arc::new(source) }
    }

    /// What an ask of `actor` gave instead of an answer: the handler's own error, or else (the
    /// message was not delivered, or the actor stopped before answering) that it had stopped.
    pub fn from_send<M>(error: kameo::error::SendError<M, ActorError>, actor: &'static str) -> Self {
        match error {
            kameo::error::SendError::HandlerError(error) => error,
            _ => Self::Stopped { actor },
        }
    }

    /// The actor that failed.
    pub fn actor(&self) -> &'static str {
        match self {
            Self::Failed { actor, .. }
            | Self::Panicked { actor, .. }
            | Self::Unusable { actor, .. }
            | Self::Stopped { actor } => actor,
        }
    }
}

/// An earlier failure, as the end of "unusable after …".
fn what_happened(failure: &ActorError) -> String {
    match failure {
        ActorError::Panicked { message, .. } => format!("its panic ({message})"),
        ActorError::Failed { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

/// Runs `work` for `actor`, turning its error or its panic into an [`ActorError`].
pub fn guarded<R, E: Error + Send + Sync + 'static>(
    actor: &'static str,
    work: impl FnOnce() -> Result<R, E>,
) -> Result<R, ActorError> {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(ActorError::failed(actor, error)),
        Err(panic) => Err(ActorError::Panicked { actor, message: panic_message(panic.as_ref()) }),
    }
}

/// The message a panic carried (`panic!` with a literal or a formatted string).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

//! Why one config value written as text was refused. serde puts the message after the field's
//! dotted path (`run.device: …`), so each says what was written and what would be accepted.

/// A config value that does not parse; its message is what the user sees after the field path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// `run.device` (or `--device`) other than `cpu`, `cuda`, `cuda:N`.
    #[error("`{0}` is not a device: use `cpu`, `cuda` or `cuda:N`")]
    Device(String),
    /// An empty `banks.text_bank`.
    #[error("empty: use `prompts`, `teacher_classifier` or a .safetensors path")]
    EmptyTextBank,
    /// An empty `checkpoint.resume`.
    #[error("empty: use `never`, `auto` or a checkpoint path")]
    EmptyResume,
    /// A requeue signal other than USR1 or USR2.
    #[error(
        "`{0}` is not USR1 or USR2 (TERM and INT stop the run and HUP reloads it; Slurm sends TERM at the time limit itself)"
    )]
    RequeueSignal(String),
}

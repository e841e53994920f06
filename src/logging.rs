//! tracing for the binary: human-readable lines on stderr, or one JSON object per line for log
//! collectors, libtorch's own warnings and panics included. `RUST_LOG`, when set, overrides the configured level.

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `2026-11-27T18:00:00Z  INFO lgd: message key=value`.
    Text,
    /// One JSON object per line.
    Json,
}

/// Why logging could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// The level filter does not parse.
    #[error("--log-level `{level}`: {message}")]
    BadLevel {
        /// What was given.
        level: String,
        /// The parser's message.
        message: String,
    },
    /// A global subscriber was already installed.
    #[error("logging was already initialised")]
    AlreadyInitialised,
    /// libtorch's own log could not be routed into ours.
    #[error("routing libtorch's log: {0}")]
    Libtorch(#[from] crate::torch_ext::TorchExtError),
}

/// Installs the global subscriber writing to stderr, and routes libtorch's own log messages (its
/// warnings) and panics into it.
pub fn init(format: LogFormat, level: &str) -> Result<(), LoggingError> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(env) if !env.is_empty() => env,
        _ => level.to_owned(),
    };
    let filter = EnvFilter::builder()
        .parse(&filter)
        .map_err(|e| LoggingError::BadLevel { level: filter.clone(), message: e.to_string() })?;
    // Colour only on a terminal: escape codes in a log file or a pipe are noise.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    result.map_err(|_| LoggingError::AlreadyInitialised)?;
    crate::torch_ext::route_libtorch_log()?;
    log_panics();
    Ok(())
}

/// Makes a panic (caught by an actor or not) one `ERROR` record of target `panic`, with its
/// thread, its location and, when `RUST_BACKTRACE` asks for it, its backtrace: the default hook's
/// text lines would break a JSON log in the middle.
fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let current = std::thread::current();
        let thread = current.name().unwrap_or("unnamed");
        let message = lgd_actors::actor_error::panic_message(info.payload());
        let location = info.location().map(ToString::to_string).unwrap_or_default();
        let backtrace = std::backtrace::Backtrace::capture();
        if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
            tracing::error!(target: "panic", thread, location, backtrace = %backtrace, "thread {thread} panicked: {message}");
        } else {
            tracing::error!(target: "panic", thread, location, "thread {thread} panicked: {message}");
        }
    }));
}

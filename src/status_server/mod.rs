//! The opt-in HTTP status server of `lgd train` (`[status] addr`): live status as JSON, Prometheus
//! metrics, a dashboard page, and token-guarded checkpoint/reload requests.
//!
//! It runs on a tokio runtime of its own, on its own threads, and only ever reads
//! [`StatusBoard::snapshot`] and sets the [`Signals`] flags, so the training thread never waits for
//! a client. Start-up writes `status_token` (0600) and then `status_addr` (the bound address, port 0
//! resolved) into the run folder; `status_addr` appearing means the server accepts connections.
//!
//! - [`routes`]: the endpoints.
//! - [`prometheus`]: the text exposition of a status.
//! - [`report`]: `lgd status RUN_DIR`, the same facts from `status.json` for any run, live or not.

pub mod prometheus;
pub mod report;
mod routes;

use std::fs::OpenOptions;
use std::future::IntoFuture;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::daemon::signals::Signals;
use crate::daemon::status::StatusBoard;

/// How long open connections may finish their request once the server is told to stop.
const DRAIN: Duration = Duration::from_secs(2);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StatusServerError {
    /// The address is taken, not local, or not allowed.
    #[error("status.addr: cannot listen on {addr}: {source}")]
    Bind {
        /// The configured address.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The token or address file could not be written.
    #[error("{}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// No random bytes for the token, or no runtime/thread for the server.
    #[error("status server: {0}")]
    Setup(String),
}

/// A running server; dropping it stops the server (draining requests in flight) and joins its
/// thread, so no request outlives the run that answers it.
#[derive(Debug)]
pub struct StatusServer {
    addr: SocketAddr,
    run_dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// The token file in a run folder.
pub fn token_file(run_dir: &Path) -> PathBuf {
    run_dir.join("status_token")
}

/// The address file in a run folder.
pub fn addr_file(run_dir: &Path) -> PathBuf {
    run_dir.join("status_addr")
}

impl StatusServer {
    /// Binds `addr` (on the caller's thread, so a taken port is a start-up error) and serves `board`
    /// and `signals` from a thread of its own.
    pub fn start(
        addr: SocketAddr,
        run_dir: &Path,
        board: StatusBoard,
        signals: Signals,
    ) -> Result<Self, StatusServerError> {
        let (listener, bound) = bind(addr)?;
        let token = new_token()?;
        write_private(&token_file(run_dir), token.as_bytes())?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("lgd-status-io")
            .enable_all()
            .build()
            .map_err(|e| StatusServerError::Setup(format!("tokio runtime: {e}")))?;
        let app = routes::router(routes::AppState { board, signals, token: Arc::from(token) });
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("lgd-status".into())
            .spawn(move || serve(runtime, listener, app, stopped))
            .map_err(|e| StatusServerError::Setup(format!("thread: {e}")))?;
        let server = Self { addr: bound, run_dir: run_dir.to_owned(), stop: Some(stop), thread: Some(thread) };
        let addr_path = addr_file(run_dir);
        crate::atomic_file::write_atomically(&addr_path, format!("{bound}\n").as_bytes())
            .map_err(|source| StatusServerError::Write { path: addr_path, source })?;
        tracing::info!(addr = %bound, "status server listening: GET / /status /metrics, POST /checkpoint /reload");
        Ok(server)
    }

    /// The address it listens on (port 0 resolved).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// A non-blocking listener on `addr` (for tokio) and the address it got.
fn bind(addr: SocketAddr) -> Result<(std::net::TcpListener, SocketAddr), StatusServerError> {
    let error = |source| StatusServerError::Bind { addr, source };
    let listener = std::net::TcpListener::bind(addr).map_err(error)?;
    listener.set_nonblocking(true).map_err(error)?;
    let bound = listener.local_addr().map_err(error)?;
    Ok((listener, bound))
}

/// The server thread: serve until told to stop, let requests in flight finish within [`DRAIN`].
fn serve(
    runtime: tokio::runtime::Runtime,
    listener: std::net::TcpListener,
    app: axum::Router,
    stopped: oneshot::Receiver<()>,
) {
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(listener) => listener,
            Err(e) => return tracing::error!("status server stopped: {e}"),
        };
        let (drain, draining) = oneshot::channel::<()>();
        let server = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = draining.await;
        });
        let task = tokio::spawn(server.into_future());
        let _ = stopped.await; // sent or dropped: either way the owner is done
        let _ = drain.send(());
        match tokio::time::timeout(DRAIN, task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!("status server: {e}"),
            Ok(Err(e)) => tracing::warn!("status server task: {e}"),
            Err(_) => tracing::warn!("status server: connections still open after {DRAIN:?} were closed"),
        }
    });
    runtime.shutdown_timeout(Duration::from_millis(100));
}

impl Drop for StatusServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        // Nothing listens any more: a stale address or token would only mislead.
        let _ = std::fs::remove_file(addr_file(&self.run_dir));
        let _ = std::fs::remove_file(token_file(&self.run_dir));
    }
}

/// 32 random bytes from the OS, hex.
fn new_token() -> Result<String, StatusServerError> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| StatusServerError::Setup(format!("random token: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes a file only its owner can read, created with that mode (never readable in between).
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), StatusServerError> {
    let write = || {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
        file.write_all(bytes)?;
        file.sync_all()
    };
    write().map_err(|source| StatusServerError::Write { path: path.to_owned(), source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn token_is_private_random_hex_and_a_taken_port_is_named() {
        let dir = std::env::temp_dir().join(format!("lgd-status-server-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        let path = dir.join("status_token");
        std::fs::write(&path, "old").unwrap();
        write_private(&path, a.as_bytes()).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), a);

        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let error = bind(addr).unwrap_err().to_string();
        assert!(error.starts_with(&format!("status.addr: cannot listen on {addr}")), "{error}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

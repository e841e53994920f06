//! The endpoints. Reads are open (the server listens on loopback unless `allow_remote`); the two
//! that act on the run need the run folder's `status_token` as `Authorization: Bearer <token>`,
//! so that only whoever can read the run folder can checkpoint or reload it.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::prometheus;
use crate::daemon::signals::Signals;
use crate::daemon::status::StatusBoard;

/// The dashboard: one self-contained page (inline CSS and JS) that polls `/status`.
const DASHBOARD: &str = include_str!("dashboard.html");

/// What every handler may use.
#[derive(Clone)]
pub(super) struct AppState {
    pub board: StatusBoard,
    pub signals: Signals,
    pub token: Arc<str>,
}

pub(super) fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(dashboard))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .route("/checkpoint", post(checkpoint))
        .route("/reload", post(reload))
        .with_state(state)
}

async fn dashboard() -> Html<&'static str> {
    Html(DASHBOARD)
}

async fn status(State(state): State<AppState>) -> Response {
    // The board is never stale by more than one log interval; tell caches not to add to that.
    ([(header::CACHE_CONTROL, "no-store")], Json(state.board.snapshot())).into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    let text = prometheus::render(&state.board.snapshot());
    ([(header::CONTENT_TYPE, prometheus::CONTENT_TYPE)], text).into_response()
}

async fn checkpoint(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(refused) = refusal(&state, &headers) {
        return refused;
    }
    state.signals.request_checkpoint();
    tracing::info!("checkpoint requested over HTTP");
    accepted("checkpoint", "a checkpoint will be written at the next step boundary")
}

async fn reload(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(refused) = refusal(&state, &headers) {
        return refused;
    }
    state.signals.request_reload();
    tracing::info!("config reload requested over HTTP");
    accepted(
        "reload",
        "the config file will be re-read at the next step boundary; GET /status shows the outcome in `message`",
    )
}

fn accepted(request: &str, message: &str) -> Response {
    (StatusCode::ACCEPTED, Json(json!({ "accepted": request, "message": message }))).into_response()
}

/// The 401 to send unless the request carries the token.
fn refusal(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let given =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(given) if same(given.trim().as_bytes(), state.token.as_bytes()) => None,
        _ => Some(
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                Json(json!({ "error": "send `Authorization: Bearer <token>` with the token from the run folder's status_token" })),
            )
                .into_response(),
        ),
    }
}

/// Equality that takes as long for a near miss as for a far one (the token is a secret).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn token_comparison_is_exact() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
        assert!(!same(b"", b"a"));
    }
}

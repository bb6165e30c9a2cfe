//! Health, readiness and metrics.

use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use super::AppState;

/// 200 while the process is up.
pub async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, "ok\n")
}

/// How long `/readyz` waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// 200 when the database answers (within 2 s), 503 when it does not.
pub async fn readyz(State(app): State<AppState>) -> impl IntoResponse {
    if app.draining.load(std::sync::atomic::Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n");
    }
    if tokio::time::timeout(READY_TIMEOUT, app.services.store.ping()).await.unwrap_or(false) {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n")
    }
}

/// Prometheus text format.
pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    let body = app.services.metrics.render(app.services.store.pool_stats());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body)
}

//! Health, readiness and metrics.

use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use super::AppState;
use crate::store::DatabaseStatus;

/// 200 while the process is up.
pub async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, "ok\n")
}

/// How long `/readyz` waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// 200 when the database answers (within 2 s), 503 when it does not. Read
/// replicas do not decide it (reads skip a failed one): with replicas, the
/// body says how each database fares.
pub async fn readyz(State(app): State<AppState>) -> impl IntoResponse {
    if app.draining.load(std::sync::atomic::Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n".to_string());
    }
    let store = &app.services.store;
    let up = tokio::time::timeout(READY_TIMEOUT, store.ping()).await.unwrap_or(false);
    let (status, mut body) = match up {
        true => (StatusCode::OK, "ready\n".to_string()),
        false => (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n".to_string()),
    };
    if store.has_replicas() {
        for mut db in store.databases() {
            if db.replica.is_none() {
                db.up = up;
            }
            body.push_str(&describe(&db));
        }
    }
    (status, body)
}

/// One line of `/readyz` about one database.
fn describe(db: &DatabaseStatus) -> String {
    let Some(url) = &db.replica else {
        return format!("{}: {}\n", db.name, if db.up { "up" } else { "down" });
    };
    let name = format!("{} ({url})", db.name);
    let lag = db.lag.map(|lag| format!(", lag {:.1} s", lag.as_secs_f64())).unwrap_or_default();
    match (db.up, db.serving) {
        (true, true) => format!("{name}: up{lag}, serving reads\n"),
        (true, false) if db.lag.is_none() => format!("{name}: up, lag not known yet: skipped\n"),
        (true, false) => format!("{name}: up{lag}, more than --max-replica-lag behind: skipped\n"),
        (false, _) => {
            let why = db.error.as_deref().unwrap_or("no answer");
            format!("{name}: down ({why}): skipped until it answers\n")
        }
    }
}

/// Prometheus text format.
pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    let store = &app.services.store;
    let mut body = app.services.metrics.render(store.pool_stats());
    if store.has_replicas() {
        body.push_str(&crate::metrics::render_databases(&store.databases()));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body)
}

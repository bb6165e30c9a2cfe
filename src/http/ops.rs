//! Health, readiness and metrics.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::graphql::{authenticate, refusal, request_id};
use crate::domain::database_status::DatabaseStatus;
use crate::error::Error;
use crate::service::operations;
use crate::service::session::Session;

/// 200 while the process is up.
pub async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, "ok\n")
}

/// 200 when the database answers (within 2 s), 503 when it does not. Read
/// replicas do not decide it (reads skip a failed one): with replicas, the
/// body says how each database fares.
pub async fn readyz(State(app): State<AppState>) -> impl IntoResponse {
    if app.draining.load(std::sync::atomic::Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n".to_string());
    }
    let (up, databases) = operations::readiness(&app.services).await;
    let (status, mut body) = match up {
        true => (StatusCode::OK, "ready\n".to_string()),
        false => (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n".to_string()),
    };
    for db in &databases {
        body.push_str(&describe(db));
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

const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Prometheus text format, on the metrics listener (`--metrics-listen`).
pub async fn metrics(State(app): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, PROMETHEUS)], operations::exposition(&app.services)).into_response()
}

/// Prometheus text format on the API's listener: for `admin` keys only
/// (`Authorization: Bearer`), since it names every tenant's streams.
pub async fn metrics_for_admins(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let refuse = |err: Error| refusal(&err, "application/json", request_id(&headers));
    let requester = match authenticate(&app, &headers, "application/json").await {
        Ok(requester) => requester,
        Err(refused) => return refused,
    };
    let Some(requester) = requester else {
        return refuse(Error::Unauthenticated("the metrics need an admin key: send `Authorization: Bearer <key>`"));
    };
    match operations::exposition_for(&Session::new(&app.services, Some(requester))) {
        Ok(body) => ([(header::CONTENT_TYPE, PROMETHEUS)], body).into_response(),
        Err(err) => refuse(err),
    }
}

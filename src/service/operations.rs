//! The server's own health and metrics, as operators read them: whether the
//! database answers, how each database fares, and the Prometheus exposition
//! (on the API's listener only for `admin` keys: it names every tenant's
//! streams).

use std::time::Duration;

use crate::domain::database_status::DatabaseStatus;
use crate::error::Result;

use super::Services;
use super::policy::Operation;
use super::session::Session;

/// How long readiness waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether the primary answers (within 2 s), and with read replicas how
/// every database fares (none without replicas).
pub async fn readiness(services: &Services) -> (bool, Vec<DatabaseStatus>) {
    let store = &services.store;
    let up = tokio::time::timeout(READY_TIMEOUT, store.ping()).await.unwrap_or(false);
    if !store.has_replicas() {
        return (up, Vec::new());
    }
    let databases = store
        .databases()
        .into_iter()
        .map(|mut db| {
            if db.replica.is_none() {
                db.up = up;
            }
            db
        })
        .collect();
    (up, databases)
}

/// The metrics in the Prometheus text format, for a scrape on the metrics
/// listener (which is open: it stays off the public network).
pub fn exposition(services: &Services) -> String {
    let store = &services.store;
    let mut body = services.metrics.render(store.pool_stats());
    if store.has_replicas() {
        body.push_str(&crate::metrics::render_databases(&store.databases()));
    }
    body
}

/// The metrics for a caller on the API's listener: needs `admin`.
pub fn exposition_for(session: &Session) -> Result<String> {
    session.authorize(Operation::ReadMetrics)?;
    Ok(exposition(session.services()))
}

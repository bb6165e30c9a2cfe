//! How one database fares, as the server's health and metrics report it.

use std::time::Duration;

/// What `/readyz` and `/metrics` say about one database.
#[derive(Clone, Debug)]
pub struct DatabaseStatus {
    /// `primary`, `replica-1`, …
    pub name: String,
    /// Replicas: the URL, password hidden.
    pub replica: Option<String>,
    pub up: bool,
    /// Replicas: how far behind the primary (while up).
    pub lag: Option<Duration>,
    /// Replicas: whether reads go there now.
    pub serving: bool,
    pub error: Option<String>,
    /// Read statements it answered.
    pub reads: u64,
    /// Replicas: read statements that failed there and were answered by the primary.
    pub fallbacks: u64,
}

//! HTTP endpoints: GraphQL over HTTP, the WebSocket transport, the console and
//! the playground, health, readiness and metrics.

pub mod console;
pub mod export;
pub mod graphql;
pub mod ops;
pub mod rate_limit;
pub mod status;
pub mod ws;

use std::sync::Arc;

use crate::graphql::AuditSchema;
use crate::service::Services;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub schema: AuditSchema,
    pub services: Services,
    pub settings: Arc<crate::config::ServeSettings>,
    pub ws_connections: Arc<ws::Connections>,
    /// Parsed GraphQL documents by their text (parses only, never answers).
    pub documents: Arc<crate::graphql::document_cache::DocumentCache>,
    /// `None` when rate limiting is off.
    pub rate_limiter: Option<Arc<rate_limit::RateLimiter>>,
    /// Set once shutdown began: `/readyz` answers 503 so balancers stop sending.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
}

/// A body refused as too large was not read to its end, so the connection
/// cannot carry another request: say so (`Connection: close`), or a client
/// would send its next request on a connection the server is closing.
pub async fn close_after_refused_body(mut response: axum::response::Response) -> axum::response::Response {
    if response.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        response.headers_mut().insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
    }
    response
}

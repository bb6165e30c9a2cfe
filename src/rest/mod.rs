//! The REST door (API.md Part 2, "REST door"): thin handlers onto the same
//! filter, page, recording and ledger machinery as GraphQL, answering with
//! opened events and RFC 9457 problems.

pub mod events;
pub mod ledger;
pub mod log;
pub mod openapi;
pub mod problem;
pub mod query;
pub mod stats;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};

use crate::error::Error;
use crate::http::AppState;
use crate::http::graphql::{identify, request_id};
use crate::service::session::Session;
use problem::Refusal;

/// Every route of the door, in one table: the router is built from it and the
/// OpenAPI document is checked against it.
fn table() -> Vec<(&'static str, &'static str, MethodRouter<AppState>)> {
    vec![
        ("GET", "/v1/events", get(events::list)),
        ("POST", "/v1/events", post(events::record)),
        ("GET", "/v1/events/stats", get(stats::stats)),
        ("GET", "/v1/events/{id}", get(events::one)),
        ("GET", "/v1/events/{id}/proof", get(ledger::proof)),
        ("GET", "/v1/ledger/checkpoint", get(ledger::checkpoint)),
        ("GET", "/v1/log/checkpoint", get(log::checkpoint)),
        ("GET", "/v1/log/tile/{*tile}", get(log::tile)),
        ("GET", "/v1/openapi.json", get(openapi::document)),
    ]
}

/// The served routes as `(method, path)`, paths written as OpenAPI writes
/// them (a wildcard `{*name}` as `{name}`).
pub fn routes() -> Vec<(&'static str, String)> {
    table().into_iter().map(|(method, path, _)| (method, path.replace("{*", "{"))).collect()
}

/// The door's routes.
pub fn router() -> Router<AppState> {
    table().into_iter().fold(Router::new(), |router, (_, path, handler)| router.route(path, handler))
}

/// The caller's session: 401 without credentials (each operation is then
/// authorized by the application layer).
async fn session(app: &AppState, headers: &HeaderMap) -> Result<Session, Refusal> {
    let requester = identify(app, headers).await?.ok_or(Error::Unauthenticated(
        "an API key is required: send `Authorization: Bearer <key>` or `X-API-Key: <key>`",
    ))?;
    Ok(Session::new(&app.services, Some(requester)))
}

/// A handler's outcome as the response: problems for refusals, and never a
/// cached answer (every answer depends on the caller's credentials).
fn reply(headers: &HeaderMap, outcome: Result<Response, Refusal>) -> Response {
    let mut response = outcome.unwrap_or_else(|refusal| refusal.into_response(request_id(headers)));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// JSON with the given status.
fn json<T: serde::Serialize>(status: axum::http::StatusCode, body: &T) -> Response {
    (status, axum::Json(body)).into_response()
}

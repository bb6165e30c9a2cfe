//! The log as C2SP static resources (`c2sp.org/tlog-tiles`): the signed
//! checkpoint with its witnesses' cosignatures, and the hash tiles of the
//! caller's tenant's tree. Entry bundles are not served (an event can exceed
//! the 65,535 bytes a bundle entry holds): entries come from `/v1/events`
//! and `/export`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::problem::{Problem, Refusal};
use super::{reply, session};
use crate::http::AppState;

/// A full tile never changes.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// A partial tile's bytes never change either, but the log may stop serving
/// it once the full tile exists: cached briefly, never as immutable.
const PARTIAL: &str = "public, max-age=60";
/// Tiles of different tenants share URLs: a cache keys them by credentials.
const VARY: &str = "authorization, x-api-key, x-audit-tenant";

/// The current tree head of the caller's tenant as a signed checkpoint note,
/// with the cosignatures of the server's witnesses for its size. Needs
/// `audit.read` or a viewer token.
#[utoipa::path(
    get, path = "/v1/log/checkpoint", tag = "log", operation_id = "getLogCheckpoint",
    responses(
        (status = 200, description = "The checkpoint (c2sp.org/tlog-checkpoint) in a signed note, cosignatures included", body = String, content_type = "text/plain; charset=utf-8"),
        (status = 401, description = "No or unknown credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks `audit.read`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn checkpoint(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let outcome = async {
        let checkpoint = crate::service::ledger::reads::checkpoint(&session(&app, &headers).await?).await?;
        let content_type = [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"))];
        Ok::<_, Refusal>((StatusCode::OK, content_type, checkpoint.note).into_response())
    };
    reply(&headers, outcome.await)
}

/// A hash tile of the caller's tenant's tree: `<L>/<N>[.p/<W>]`, the 256 (or,
/// partial, `W`) node hashes at level `8L` from index `256N`, 32 bytes each.
/// Needs `audit.read` or a viewer token.
#[utoipa::path(
    get, path = "/v1/log/tile/{tile}", tag = "log", operation_id = "getLogTile",
    params(("tile" = String, Path, description = "The tile's coordinates, `<L>/<N>[.p/<W>]` with `N` in 3-digit path elements (e.g. `0/x001/x234/067.p/8`); its slashes are path separators")),
    responses(
        (status = 200, description = "The tile's hashes; full tiles are immutable", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 400, description = "Not a tile path", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks `audit.read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The tree does not reach the tile yet, or an entry bundle (not served)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn tile(State(app): State<AppState>, headers: HeaderMap, Path(coordinates): Path<String>) -> Response {
    let outcome = async {
        let session = session(&app, &headers).await?;
        Ok::<_, Refusal>(crate::service::tiles::read(&session, &coordinates).await?)
    };
    match outcome.await {
        Ok((tile, bytes)) => {
            let cache = if tile.is_full() { IMMUTABLE } else { PARTIAL };
            let headers = [
                (header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream")),
                (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
                (header::VARY, HeaderValue::from_static(VARY)),
            ];
            (StatusCode::OK, headers, bytes).into_response()
        }
        Err(refusal) => reply(&headers, Err(refusal)),
    }
}

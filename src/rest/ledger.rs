//! The ledger over REST: the signed checkpoint and an event's inclusion proof.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::problem::{Problem, Refusal};
use super::{json, reply, session};
use crate::domain::ids::EventId;
use crate::error::Error;
use crate::http::AppState;
use crate::service::ledger::b64;

/// A signed tree head: a C2SP checkpoint in a signed note, signed with Ed25519.
#[derive(Serialize, ToSchema)]
pub struct Checkpoint {
    /// `<log origin>/<tenant ID>`.
    pub origin: String,
    /// Leaves in the tree: the events with sequence 1 to `size`.
    pub size: u64,
    /// The RFC 9162 root hash, base64.
    pub root_hash: String,
    /// The whole signed note, with the witnesses' cosignatures.
    pub signed_note: String,
    /// When it was signed (RFC 3339).
    pub issued_at: String,
    /// The witnesses' cosignature lines (`cosignature/v1`), as in `signed_note`.
    pub cosignatures: Vec<String>,
    /// Whether a quorum of the server's witnesses cosigned it.
    pub witnessed: bool,
}

/// An RFC 9162 §2.1.3 inclusion proof of one event's leaf.
#[derive(Serialize, ToSchema)]
pub struct InclusionProof {
    /// The event's sequence minus one.
    pub leaf_index: u64,
    pub tree_size: u64,
    /// SHA-256(0x00 ‖ canonical event), base64.
    pub leaf_hash: String,
    /// The audit path, leaf to root, base64.
    pub hashes: Vec<String>,
}

/// The query of `GET /v1/events/{id}/proof`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProofQuery {
    /// The tree size (default: the current size); at least the event's sequence.
    #[param(minimum = 1)]
    pub tree_size: Option<u64>,
}

impl ProofQuery {
    fn parse(raw: Option<&str>) -> Result<Option<i64>, Error> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
            .map_err(|e| Error::bad_input("query", format!("the query string does not decode: {e}")))?;
        let mut tree_size = None;
        for (name, value) in pairs {
            if name != "tree_size" {
                return Err(Error::bad_input(&name, format!("`{name}` is not a parameter of this route")));
            }
            let size = value
                .trim()
                .parse::<i64>()
                .map_err(|_| Error::bad_input("tree_size", format!("`{value}` is not a whole number")))?;
            if tree_size.replace(size).is_some() {
                return Err(Error::bad_input("tree_size", "may be given only once"));
            }
        }
        Ok(tree_size)
    }
}

/// The current tree head of the caller's tenant, signed now. Needs `audit.read`.
#[utoipa::path(
    get, path = "/v1/ledger/checkpoint", tag = "ledger", operation_id = "getCheckpoint",
    responses(
        (status = 200, description = "The signed checkpoint", body = Checkpoint),
        (status = 401, description = "No or unknown credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks `audit.read`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn checkpoint(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let outcome = async {
        let c = crate::service::ledger::reads::checkpoint(&session(&app, &headers).await?).await?;
        let body = Checkpoint {
            origin: c.origin,
            size: c.size,
            root_hash: b64(&c.root),
            signed_note: c.note,
            issued_at: c.issued_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            cosignatures: c.cosignatures,
            witnessed: c.witnessed,
        };
        Ok::<_, Refusal>(json(StatusCode::OK, &body))
    };
    reply(&headers, outcome.await)
}

/// The inclusion proof of an event in the tree of `tree_size` leaves. Needs `audit.read`.
#[utoipa::path(
    get, path = "/v1/events/{id}/proof", tag = "ledger", operation_id = "getInclusionProof",
    params(("id" = String, Path, description = "The event's ID (`evt_…`)"), ProofQuery),
    responses(
        (status = 200, description = "The inclusion proof", body = InclusionProof),
        (status = 400, description = "A bad ID or tree size", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks `audit.read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such event in the tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn proof(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let outcome = async {
        let session = session(&app, &headers).await?;
        let tree_size = ProofQuery::parse(raw.as_deref())?;
        let id = EventId::parse(&id, "id")?;
        let (row, proof) =
            crate::service::ledger::event_with_proof(&session, id, tree_size).await.map_err(|err| match err {
                // The service names GraphQL's argument.
                Error::BadInput { path, message, .. } if path == "treeSize" => Error::bad_input("tree_size", message),
                other => other,
            })?;
        let body = InclusionProof {
            leaf_index: proof.leaf_index,
            tree_size: proof.tree_size,
            leaf_hash: b64(&crate::ledger::event::hash(&row)),
            hashes: proof.hashes.iter().map(b64).collect(),
        };
        Ok::<_, Refusal>(json(StatusCode::OK, &body))
    };
    reply(&headers, outcome.await)
}

//! Minting viewer tokens, audited as `viewer_token.create` in the tenant
//! (with the filter and expiry, never the token).

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::domain::event::NewResource;
use crate::domain::filter_spec::FilterSpec;
use crate::domain::secret;
use crate::error::{Error, Result};
use crate::store::viewer_tokens;
use crate::viewer_token::{MAX_TTL_SECONDS, SECRET_PREFIX};

use super::policy::Operation;
use super::self_audit::{Acting, self_audit};
use super::session::Session;
use super::unit_of_work::UnitOfWork;

/// A minted token: the secret is shown once.
pub struct Minted {
    pub secret: String,
    pub expires_at: DateTime<Utc>,
}

/// Mints a token reading the caller's tenant through `filter` for
/// `ttl_seconds`. Needs `audit.read`, and an API key: a viewer token mints
/// nothing, so it can never widen its own view.
pub async fn mint(session: &Session, filter: FilterSpec, ttl_seconds: i32) -> Result<Minted> {
    let requester = session.authorize(Operation::MintViewerToken)?;
    if !(1..=MAX_TTL_SECONDS).contains(&ttl_seconds) {
        return Err(Error::bad_input(
            "input.ttlSeconds",
            format!("a viewer token lives 1 to {MAX_TTL_SECONDS} seconds (got {ttl_seconds})"),
        ));
    }
    let filter_json = filter.to_json();
    // Validated now, so that authenticating with the token never fails on it.
    filter.into_filter("input.filter")?;
    let secret = secret::random_secret(SECRET_PREFIX);
    let services = session.services();
    let mut unit = UnitOfWork::begin(&services.store, &services.bus).await?;
    let expires_at = unit.now + chrono::Duration::seconds(i64::from(ttl_seconds));
    let id = viewer_tokens::insert(
        unit.txn(),
        requester.tenant,
        viewer_tokens::NewToken {
            minted_by: requester.key_id,
            secret_hash: &secret::hash_secret(&secret),
            filter: filter_json.clone(),
            expires_at,
        },
        unit.now,
    )
    .await?;
    let event = self_audit(
        unit.now,
        "viewer_token.create",
        &Acting::Key(requester),
        NewResource { kind: "viewer_token".into(), external_id: id.to_string(), name: None },
        format!("Viewer token minted by API key `{}`, expiring {expires_at}", requester.key_name),
        json!({ "filter": filter_json, "expiresAt": crate::ledger::canonical::instant(expires_at) }),
    );
    unit.record(requester.tenant, vec![event]).await?;
    unit.commit().await?;
    session.pin_primary();
    Ok(Minted { secret, expires_at })
}

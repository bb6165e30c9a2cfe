//! Creating and revoking API keys, audited in their tenant. A key may grant
//! or revoke only scopes it holds itself.

use serde_json::json;

use crate::bus::Bus;
use crate::domain::api_key::ApiKey;
use crate::domain::event::NewResource;
use crate::domain::ids::{ApiKeyId, TenantId};
use crate::domain::requester::Requester;
use crate::domain::scope::{Scope, Scopes};
use crate::domain::secret;
use crate::error::{Error, Result};
use crate::store::{Store, keys};

use super::policy::Operation;
use super::self_audit::{Acting, self_audit};
use super::session::Session;
use super::unit_of_work::UnitOfWork;

/// Creates a key in `tenant`; returns it with its secret (shown once).
/// A caller may only grant scopes it holds itself.
pub async fn create_key(
    store: &Store,
    bus: &Bus,
    tenant: TenantId,
    name: &str,
    scopes: Scopes,
    acting: Acting<'_>,
) -> Result<(ApiKey, String)> {
    if let Acting::Key(requester) = &acting
        && let Some(missing) = scopes.iter().find(|s| !requester.scopes.allows(*s))
    {
        return Err(Error::Forbidden(format!("a key may only grant scopes it holds; this one lacks `{missing}`")));
    }
    let name = crate::domain::event::check::text("name", name.to_string(), 1, 255)?;
    let secret = secret::generate_secret();
    let mut unit = UnitOfWork::begin(store, bus).await?;
    let key = keys::insert(
        unit.txn(),
        tenant,
        keys::NewKey { name: &name, prefix: &secret.prefix, secret_hash: &secret.hash, scopes: &scopes },
        unit.now,
    )
    .await?;
    let key_id = key.id;
    let event = self_audit(
        unit.now,
        "api_key.create",
        &acting,
        NewResource { kind: "api_key".into(), external_id: key_id.to_string(), name: Some(name.clone()) },
        format!("API key `{name}` ({}) created", secret.prefix),
        json!({ "scopes": scopes.iter().map(Scope::as_str).collect::<Vec<_>>(), "prefix": secret.prefix }),
    );
    unit.record(tenant, vec![event]).await?;
    unit.commit().await?;
    Ok((key, secret.secret))
}

/// A key may revoke only keys whose every scope it holds: `keys.manage` alone
/// cannot take away an `admin` key it could never have created.
fn may_revoke(requester: &Requester, key: &ApiKey) -> Result<()> {
    match key.scopes.iter().find(|s| !requester.scopes.allows(*s)) {
        Some(missing) => Err(Error::Forbidden(format!(
            "a key may only revoke keys whose scopes it holds; this one lacks `{missing}`"
        ))),
        None => Ok(()),
    }
}

/// Revokes a key of `tenant`, audited as `api_key.revoke`. `NOT_FOUND` if the
/// tenant has no such key; revoking twice keeps the first revocation.
pub async fn revoke_key(
    store: &Store,
    bus: &Bus,
    tenant: TenantId,
    id: ApiKeyId,
    acting: Acting<'_>,
) -> Result<ApiKey> {
    let mut unit = UnitOfWork::begin(store, bus).await?;
    let before = keys::by_id(unit.txn(), tenant, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no API key {id} in this tenant")))?;
    if let Acting::Key(requester) = &acting {
        may_revoke(requester, &before)?;
    }
    let key = keys::revoke(unit.txn(), tenant, id, unit.now)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no API key {id} in this tenant")))?;
    if before.revoked_at.is_none() {
        let event = self_audit(
            unit.now,
            "api_key.revoke",
            &acting,
            NewResource { kind: "api_key".into(), external_id: id.to_string(), name: Some(key.name.clone()) },
            format!("API key `{}` ({}) revoked", key.name, key.prefix),
            json!({ "prefix": key.prefix }),
        );
        unit.record(tenant, vec![event]).await?;
    }
    unit.commit().await?;
    Ok(key)
}

/// The keys of `tenant`, oldest first, for a caller that manages the keys of
/// its own tenant (none of another's).
pub async fn list(session: &Session, tenant: TenantId) -> Result<Vec<ApiKey>> {
    let requester = session.authorize(Operation::ManageKeys)?;
    if requester.tenant != tenant {
        return Ok(Vec::new());
    }
    keys::list(session.services().store.db(), tenant).await
}

/// The key the caller authenticated with (a viewer token has none to show).
pub async fn own(session: &Session) -> Result<ApiKey> {
    let requester = session.requester()?;
    requester.require_api_key("see the API key that minted it")?;
    keys::by_id_any_tenant(session.services().store.db(), requester.key_id)
        .await?
        .ok_or_else(|| Error::NotFound("the key no longer exists".into()))
}

/// Creates a key in the caller's tenant; returns it with its secret (shown once).
pub async fn create(session: &Session, name: &str, scopes: Scopes) -> Result<(ApiKey, String)> {
    let requester = session.authorize(Operation::ManageKeys)?;
    let s = session.services();
    let created = create_key(&s.store, &s.bus, requester.tenant, name, scopes, Acting::Key(requester)).await?;
    session.pin_primary();
    Ok(created)
}

/// Revokes a key of the caller's tenant; it stops working at once.
pub async fn revoke(session: &Session, id: ApiKeyId) -> Result<ApiKey> {
    let requester = session.authorize(Operation::ManageKeys)?;
    let s = session.services();
    let key = revoke_key(&s.store, &s.bus, requester.tenant, id, Acting::Key(requester)).await?;
    s.auth.forget(id);
    session.pin_primary();
    Ok(key)
}

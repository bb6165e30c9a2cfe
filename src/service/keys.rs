//! Creating and revoking API keys, audited in their tenant. A key may grant
//! or revoke only scopes it holds itself.

use entity::api_key;
use serde_json::json;

use crate::auth::{self, Requester};
use crate::bus::Bus;
use crate::domain::event::NewResource;
use crate::domain::ids::{ApiKeyId, TenantId};
use crate::domain::scope::{Scope, Scopes};
use crate::error::{Error, Result};
use crate::store::{Store, keys};

use super::self_audit::{Acting, self_audit};
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
) -> Result<(api_key::Model, String)> {
    if let Acting::Key(requester) = &acting
        && let Some(missing) = scopes.iter().find(|s| !requester.scopes.allows(*s))
    {
        return Err(Error::Forbidden(format!("a key may only grant scopes it holds; this one lacks `{missing}`")));
    }
    let name = crate::domain::event::check::text("name", name.to_string(), 1, 255)?;
    let secret = auth::generate_secret();
    let mut unit = UnitOfWork::begin(store, bus).await?;
    let key = keys::insert(
        unit.txn(),
        tenant,
        keys::NewKey { name: &name, prefix: &secret.prefix, secret_hash: &secret.hash, scopes: &scopes },
        unit.now,
    )
    .await?;
    let key_id = ApiKeyId(key.id);
    let event = self_audit(
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
fn may_revoke(requester: &Requester, key: &api_key::Model) -> Result<()> {
    let scopes =
        Scopes::parse_list(&key.scopes, "scopes").map_err(|_| Error::internal("stored scopes do not parse"))?;
    match scopes.iter().find(|s| !requester.scopes.allows(*s)) {
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
) -> Result<api_key::Model> {
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

//! Operations on tenants and keys, shared by the GraphQL API and the command
//! line. Each one is audited in the affected tenant in the same transaction.

use entity::{api_key, tenant};
use sea_orm::TransactionTrait;
use serde_json::json;

use crate::auth::{self, Requester};
use crate::bus::Bus;
use crate::domain::event::{ActorSpec, ActorType, NewEvent, Outcome, ResourceSpec};
use crate::domain::ids::{ApiKeyId, TenantId};
use crate::domain::scope::{Scope, Scopes};
use crate::error::{Error, Result};
use crate::store::{Store, events, keys, tenants};

/// Who performs an operation.
pub enum Acting<'a> {
    /// The operator, on the command line.
    System,
    /// A caller with an API key.
    Key(&'a Requester),
}

impl Acting<'_> {
    fn actor(&self) -> ActorSpec {
        match self {
            Acting::System => ActorSpec {
                kind: ActorType::System,
                external_id: "auditgraph-cli".into(),
                display_name: Some("auditgraph command line".into()),
                email: None,
                roles: None,
            },
            Acting::Key(requester) => requester.actor(),
        }
    }
}

pub(crate) fn self_audit(
    action: &str,
    acting: &Acting<'_>,
    resource: ResourceSpec,
    summary: String,
    metadata: serde_json::Value,
) -> NewEvent {
    NewEvent {
        action: action.into(),
        outcome: Outcome::Success,
        occurred_at: crate::domain::now(),
        actor: acting.actor(),
        resource: Some(resource),
        related_resources: Vec::new(),
        summary: Some(summary),
        reason: None,
        error_message: None,
        environment: None,
        source_service: Some(crate::domain::event::SELF_AUDIT_SOURCE.into()),
        correlation_id: None,
        request: None,
        metadata: metadata.as_object().cloned().unwrap_or_default(),
        changes: Vec::new(),
        idempotency_key: None,
    }
}

/// Creates a tenant, audited as `tenant.create` in it.
pub async fn create_tenant(
    store: &Store,
    bus: &Bus,
    slug: &str,
    name: Option<&str>,
    acting: Acting<'_>,
) -> Result<tenant::Model> {
    let _gate = store.write_gate().await;
    let txn = store.db().begin().await?;
    let now = crate::domain::now();
    let tenant = tenants::insert(&txn, slug, name.unwrap_or(slug), now).await?;
    let tenant_id = TenantId(tenant.id);
    let event = self_audit(
        "tenant.create",
        &acting,
        ResourceSpec { kind: "tenant".into(), external_id: tenant_id.to_string(), name: Some(tenant.name.clone()) },
        format!("Tenant `{}` created", tenant.slug),
        json!({ "slug": tenant.slug }),
    );
    let recorded = events::record_in(&txn, tenant_id, vec![event], now).await?;
    txn.commit().await?;
    bus.publish(tenant_id, &recorded.created);
    Ok(tenant)
}

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
    let _gate = store.write_gate().await;
    let txn = store.db().begin().await?;
    let now = crate::domain::now();
    let key = keys::insert(
        &txn,
        tenant,
        keys::NewKey { name: &name, prefix: &secret.prefix, secret_hash: &secret.hash, scopes: &scopes },
        now,
    )
    .await?;
    let key_id = ApiKeyId(key.id);
    let event = self_audit(
        "api_key.create",
        &acting,
        ResourceSpec { kind: "api_key".into(), external_id: key_id.to_string(), name: Some(name.clone()) },
        format!("API key `{name}` ({}) created", secret.prefix),
        json!({ "scopes": scopes.iter().map(Scope::as_str).collect::<Vec<_>>(), "prefix": secret.prefix }),
    );
    let recorded = events::record_in(&txn, tenant, vec![event], now).await?;
    txn.commit().await?;
    bus.publish(tenant, &recorded.created);
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
    let _gate = store.write_gate().await;
    let txn = store.db().begin().await?;
    let now = crate::domain::now();
    let before = keys::by_id(&txn, tenant, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no API key {id} in this tenant")))?;
    if let Acting::Key(requester) = &acting {
        may_revoke(requester, &before)?;
    }
    let key = keys::revoke(&txn, tenant, id, now)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no API key {id} in this tenant")))?;
    let mut created = Vec::new();
    if before.revoked_at.is_none() {
        let event = self_audit(
            "api_key.revoke",
            &acting,
            ResourceSpec { kind: "api_key".into(), external_id: id.to_string(), name: Some(key.name.clone()) },
            format!("API key `{}` ({}) revoked", key.name, key.prefix),
            json!({ "prefix": key.prefix }),
        );
        created = events::record_in(&txn, tenant, vec![event], now).await?.created;
    }
    txn.commit().await?;
    bus.publish(tenant, &created);
    Ok(key)
}

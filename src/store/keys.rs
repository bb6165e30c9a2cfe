//! API keys: only a hash of the secret is stored.

use chrono::{DateTime, Duration, Utc};
use entity::{api_key, tenant};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::domain::api_key::ApiKey;
use crate::domain::ids::{ApiKeyId, TenantId};
use crate::domain::scope::Scopes;
use crate::domain::tenant::Tenant;
use crate::error::{Error, Result};

/// How often `last_used_at` is refreshed at most: a write per request would be waste.
const LAST_USED_RESOLUTION: Duration = Duration::minutes(1);

pub struct NewKey<'a> {
    pub name: &'a str,
    pub prefix: &'a str,
    pub secret_hash: &'a str,
    pub scopes: &'a Scopes,
}

#[tracing::instrument(name = "db.keys.insert", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn insert(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    key: NewKey<'_>,
    now: DateTime<Utc>,
) -> Result<ApiKey> {
    let model = api_key::Model {
        id: ApiKeyId::generate().0,
        tenant_id: tenant.0,
        name: key.name.to_string(),
        prefix: key.prefix.to_string(),
        secret_hash: key.secret_hash.to_string(),
        scopes: key.scopes.to_list(),
        created_at: now,
        revoked_at: None,
        last_used_at: None,
    };
    let active = api_key::ActiveModel {
        id: Set(model.id),
        tenant_id: Set(model.tenant_id),
        name: Set(model.name.clone()),
        prefix: Set(model.prefix.clone()),
        secret_hash: Set(model.secret_hash.clone()),
        scopes: Set(model.scopes.clone()),
        created_at: Set(now),
        revoked_at: Set(None),
        last_used_at: Set(None),
    };
    api_key::Entity::insert(active).exec_without_returning(db).await?;
    record(model)
}

/// The key with this secret hash and its tenant: how a request finds its tenant.
#[tracing::instrument(name = "db.keys.by_hash", skip_all, err(Debug))]
pub async fn by_hash(db: &impl ConnectionTrait, secret_hash: &str) -> Result<Option<(ApiKey, Tenant)>> {
    let Some(key) = api_key::Entity::find().filter(api_key::Column::SecretHash.eq(secret_hash)).one(db).await? else {
        return Ok(None);
    };
    let Some(tenant) = tenant::Entity::find_by_id(key.tenant_id).one(db).await? else {
        return Ok(None);
    };
    Ok(Some((record(key)?, super::tenants::record(tenant))))
}

#[tracing::instrument(name = "db.keys.list", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn list(db: &impl ConnectionTrait, tenant: TenantId) -> Result<Vec<ApiKey>> {
    api_key::Entity::find()
        .filter(api_key::Column::TenantId.eq(tenant.0))
        .order_by_asc(api_key::Column::CreatedAt)
        .order_by_asc(api_key::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(record)
        .collect()
}

#[tracing::instrument(name = "db.keys.by_id", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn by_id(db: &impl ConnectionTrait, tenant: TenantId, id: ApiKeyId) -> Result<Option<ApiKey>> {
    api_key::Entity::find_by_id(id.0)
        .filter(api_key::Column::TenantId.eq(tenant.0))
        .one(db)
        .await?
        .map(record)
        .transpose()
}

/// A key by ID in any tenant: for the command line, which acts as the operator.
#[tracing::instrument(name = "db.keys.by_id_any_tenant", skip_all, err(Debug))]
pub async fn by_id_any_tenant(db: &impl ConnectionTrait, id: ApiKeyId) -> Result<Option<ApiKey>> {
    api_key::Entity::find_by_id(id.0).one(db).await?.map(record).transpose()
}

/// A stored key as the domain's (without its secret's hash).
fn record(row: api_key::Model) -> Result<ApiKey> {
    Ok(ApiKey {
        id: ApiKeyId(row.id),
        tenant: TenantId(row.tenant_id),
        scopes: Scopes::parse_list(&row.scopes, "scopes").map_err(|_| Error::internal("stored scopes do not parse"))?,
        name: row.name,
        prefix: row.prefix,
        created_at: row.created_at,
        revoked_at: row.revoked_at,
        last_used_at: row.last_used_at,
    })
}

/// Marks the key revoked (once; a second revocation keeps the first instant).
#[tracing::instrument(name = "db.keys.revoke", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn revoke(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: ApiKeyId,
    now: DateTime<Utc>,
) -> Result<Option<ApiKey>> {
    api_key::Entity::update_many()
        .col_expr(api_key::Column::RevokedAt, Expr::val(now).into())
        .filter(api_key::Column::Id.eq(id.0))
        .filter(api_key::Column::TenantId.eq(tenant.0))
        .filter(api_key::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    by_id(db, tenant, id).await
}

/// Those of `ids` that are revoked or no longer exist.
#[tracing::instrument(name = "db.keys.revoked_among", skip_all, err(Debug))]
pub async fn revoked_among(db: &impl ConnectionTrait, ids: &[ApiKeyId]) -> Result<Vec<ApiKeyId>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let valid: std::collections::HashSet<uuid::Uuid> = api_key::Entity::find()
        .filter(api_key::Column::Id.is_in(ids.iter().map(|id| id.0)))
        .filter(api_key::Column::RevokedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|k| k.id)
        .collect();
    Ok(ids.iter().copied().filter(|id| !valid.contains(&id.0)).collect())
}

/// Records that the key was used, unless that was recorded within the last minute.
#[tracing::instrument(name = "db.keys.touch", skip_all, err(Debug))]
pub async fn touch(db: &impl ConnectionTrait, id: ApiKeyId, now: DateTime<Utc>) -> Result<()> {
    api_key::Entity::update_many()
        .col_expr(api_key::Column::LastUsedAt, Expr::val(now).into())
        .filter(api_key::Column::Id.eq(id.0))
        .filter(api_key::Column::LastUsedAt.is_null().or(api_key::Column::LastUsedAt.lt(now - LAST_USED_RESOLUTION)))
        .exec(db)
        .await?;
    Ok(())
}

pub fn is_stale(last_used: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    last_used.is_none_or(|at| at < now - LAST_USED_RESOLUTION)
}

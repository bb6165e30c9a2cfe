//! Viewer tokens: only a hash of the secret is stored, with the token's tenant,
//! the key that minted it, its fixed filter and its expiry.

use chrono::{DateTime, Utc};
use entity::{api_key, tenant, viewer_token};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::domain::ids::{ApiKeyId, TenantId};
use crate::error::Result;

pub struct NewToken<'a> {
    pub minted_by: ApiKeyId,
    pub secret_hash: &'a str,
    pub filter: serde_json::Value,
    pub expires_at: DateTime<Utc>,
}

/// Stores a token; returns its row ID.
#[tracing::instrument(name = "db.viewer_tokens.insert", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn insert(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    token: NewToken<'_>,
    now: DateTime<Utc>,
) -> Result<uuid::Uuid> {
    let model = viewer_token::Model {
        id: uuid::Uuid::now_v7(),
        tenant_id: tenant.0,
        api_key_id: token.minted_by.0,
        secret_hash: token.secret_hash.to_string(),
        filter: token.filter,
        created_at: now,
        expires_at: token.expires_at,
    };
    let active = viewer_token::ActiveModel {
        id: Set(model.id),
        tenant_id: Set(model.tenant_id),
        api_key_id: Set(model.api_key_id),
        secret_hash: Set(model.secret_hash.clone()),
        filter: Set(model.filter.clone()),
        created_at: Set(now),
        expires_at: Set(model.expires_at),
    };
    viewer_token::Entity::insert(active).exec_without_returning(db).await?;
    Ok(model.id)
}

/// A token found by its secret's hash, with the key that minted it and its tenant.
pub struct Found {
    pub token: viewer_token::Model,
    pub key: api_key::Model,
    pub tenant: tenant::Model,
}

/// The token with this secret hash, its minting key and its tenant.
#[tracing::instrument(name = "db.viewer_tokens.by_hash", skip_all, err(Debug))]
pub async fn by_hash(db: &impl ConnectionTrait, secret_hash: &str) -> Result<Option<Found>> {
    let Some(token) =
        viewer_token::Entity::find().filter(viewer_token::Column::SecretHash.eq(secret_hash)).one(db).await?
    else {
        return Ok(None);
    };
    let key = api_key::Entity::find_by_id(token.api_key_id).one(db).await?;
    let tenant = tenant::Entity::find_by_id(token.tenant_id).one(db).await?;
    Ok(key.zip(tenant).map(|(key, tenant)| Found { token, key, tenant }))
}

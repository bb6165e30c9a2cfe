//! `Tenant`, `ApiKey`, `Viewer` and the payloads of key and tenant mutations.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use entity::{api_key, tenant};

use super::context::ContextExt;
use super::enums::ApiKeyScope;
use super::scalars::DateTime;
use super::viewer_token::ViewerRestriction;
use crate::auth::Requester;
use crate::domain::ids::{ApiKeyId, TenantId};
use crate::domain::scope::{Scope, Scopes};
use crate::error::Result;
use crate::store::{keys, tenants};

/// An account or organisation. Nothing is ever shared between tenants.
#[derive(Clone)]
pub struct Tenant(pub tenant::Model);

/// An account or organisation. Nothing is ever shared between tenants.
#[Object]
impl Tenant {
    /// The tenant's global ID (`ten_…`).
    pub async fn id(&self) -> ID {
        ID(TenantId(self.0.id).to_string())
    }

    /// Short name, as sent in the `X-Audit-Tenant` header.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// When it was created.
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }

    /// Days events are kept after they are received; null keeps them forever.
    async fn retention_days(&self) -> Option<i32> {
        self.0.retention_days
    }

    /// While true, nothing of the tenant is purged, whatever its retention.
    async fn legal_hold(&self) -> bool {
        self.0.legal_hold
    }

    /// The tenant's API keys, oldest first (needs `keys.manage`).
    async fn api_keys(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ApiKey>> {
        let requester = ctx.require(Scope::KeysManage)?;
        let tenant = TenantId(self.0.id);
        if requester.tenant != tenant {
            return Ok(Vec::new());
        }
        Ok(keys::list(ctx.store().db(), tenant).await?.into_iter().map(ApiKey).collect())
    }
}

/// An API key. The secret itself is shown only once, when the key is created.
#[derive(Clone)]
pub struct ApiKey(pub api_key::Model);

/// An API key. The secret itself is shown only once, when the key is created.
#[Object]
impl ApiKey {
    /// The key's global ID (`key_…`).
    pub async fn id(&self) -> ID {
        ID(ApiKeyId(self.0.id).to_string())
    }

    /// What the key is for.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The first characters of the secret, to tell keys apart.
    async fn prefix(&self) -> &str {
        &self.0.prefix
    }

    /// What the key may do.
    async fn scopes(&self) -> Vec<ApiKeyScope> {
        Scopes::parse_list(&self.0.scopes, "scopes").map(|s| s.iter().map(Into::into).collect()).unwrap_or_default()
    }

    /// When it was created.
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }

    /// When the key was revoked; null while it is valid.
    async fn revoked_at(&self) -> Option<DateTime> {
        self.0.revoked_at.map(Into::into)
    }

    /// When the key was last used (to within a minute).
    async fn last_used_at(&self) -> Option<DateTime> {
        self.0.last_used_at.map(Into::into)
    }
}

/// The caller: its key and the tenant it acts in.
pub struct Viewer(pub Requester);

/// The caller: its key and the tenant it acts in.
#[Object]
impl Viewer {
    /// The tenant the request acts in (for admin keys, the one named by `X-Audit-Tenant`).
    async fn tenant(&self, ctx: &Context<'_>) -> async_graphql::Result<Tenant> {
        let tenant = tenants::by_id(ctx.store().db(), self.0.tenant)
            .await?
            .ok_or_else(|| crate::error::Error::NotFound("the tenant no longer exists".into()))?;
        Ok(Tenant(tenant))
    }

    /// The key the request was made with (a viewer token has none to show).
    async fn api_key(&self, ctx: &Context<'_>) -> async_graphql::Result<ApiKey> {
        self.0.require_api_key("see the API key that minted it")?;
        let key = keys::by_id_any_tenant(ctx.store().db(), self.0.key_id)
            .await?
            .ok_or_else(|| crate::error::Error::NotFound("the key no longer exists".into()))?;
        Ok(ApiKey(key))
    }

    /// The scopes the key carries.
    async fn scopes(&self) -> Vec<ApiKeyScope> {
        self.0.scopes.iter().map(Into::into).collect()
    }

    /// What the viewer token the request was made with is fixed to; null for an API key.
    async fn restriction(&self) -> Option<ViewerRestriction> {
        self.0.viewer.as_deref().map(ViewerRestriction::from)
    }
}

/// A key to create.
#[derive(InputObject)]
pub struct CreateApiKeyInput {
    /// What the key is for (1–255 characters).
    pub name: String,
    /// What the key may do; a caller may grant only scopes it holds.
    pub scopes: Vec<ApiKeyScope>,
}

/// The created key and its secret.
#[derive(SimpleObject)]
pub struct CreateApiKeyPayload {
    /// The key.
    pub api_key: ApiKey,
    /// The secret: send it as `Authorization: Bearer <secret>`. Shown only now.
    pub secret: String,
}

/// The revoked key.
#[derive(SimpleObject)]
pub struct RevokeApiKeyPayload {
    /// The key, with `revokedAt` set.
    pub api_key: ApiKey,
}

/// A tenant to create (needs `admin`).
#[derive(InputObject)]
pub struct CreateTenantInput {
    /// Short name: 1–63 lower-case letters, digits and dashes.
    pub slug: String,
    /// Display name (default: the slug).
    pub name: Option<String>,
}

/// The created tenant.
#[derive(SimpleObject)]
pub struct CreateTenantPayload {
    /// The tenant.
    pub tenant: Tenant,
}

/// Converts the input's scopes.
pub fn scopes_of(input: &CreateApiKeyInput) -> Result<Scopes> {
    if input.scopes.is_empty() {
        return Err(crate::error::Error::bad_input("input.scopes", "at least one scope is required"));
    }
    Ok(Scopes::new(input.scopes.iter().copied().map(Into::into).collect()))
}

/// A tenant's retention and legal hold; a field left out stays as it is.
#[derive(async_graphql::InputObject)]
pub struct SetTenantRetentionInput {
    /// The tenant's slug.
    pub tenant: String,
    /// Days events are kept after they are received (0 to 36,500); null keeps
    /// them forever; 0 keeps nothing already received.
    pub retention_days: async_graphql::MaybeUndefined<i32>,
    /// Whether the tenant is on legal hold (nothing is purged while it is).
    pub legal_hold: Option<bool>,
}

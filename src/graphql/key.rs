//! `Tenant`, `ApiKey`, `Viewer` and the payloads of key and tenant mutations.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::context::ContextExt;
use super::enums::ApiKeyScope;
use super::scalars::DateTime;
use super::viewer_token::ViewerRestriction;
use crate::domain::api_key::ApiKey as StoredKey;
use crate::domain::requester::Requester;
use crate::domain::scope::Scopes;
use crate::domain::tenant::Tenant as StoredTenant;
use crate::error::Result;
use crate::service::{keys, tenants};

/// An account or organisation. Nothing is ever shared between tenants.
#[derive(Clone)]
pub struct Tenant(pub StoredTenant);

/// An account or organisation. Nothing is ever shared between tenants.
#[Object]
impl Tenant {
    /// The tenant's global ID (`ten_…`).
    pub async fn id(&self) -> ID {
        ID(self.0.id.to_string())
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
        Ok(keys::list(ctx.session(), self.0.id).await?.into_iter().map(ApiKey).collect())
    }
}

/// An API key. The secret itself is shown only once, when the key is created.
#[derive(Clone)]
pub struct ApiKey(pub StoredKey);

/// An API key. The secret itself is shown only once, when the key is created.
#[Object]
impl ApiKey {
    /// The key's global ID (`key_…`).
    pub async fn id(&self) -> ID {
        ID(self.0.id.to_string())
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
        self.0.scopes.iter().map(Into::into).collect()
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
        Ok(Tenant(tenants::current(ctx.session()).await?))
    }

    /// The key the request was made with (a viewer token has none to show).
    async fn api_key(&self, ctx: &Context<'_>) -> async_graphql::Result<ApiKey> {
        Ok(ApiKey(keys::own(ctx.session()).await?))
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

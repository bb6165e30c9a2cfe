//! `createViewerToken` and its types.

use async_graphql::{Context, InputObject, SimpleObject};

use super::context::ContextExt;
use super::filter_input::AuditEventFilter;
use super::scalars::{DateTime, Json};
use crate::domain::requester::ViewerGrant;
use crate::service::viewer_tokens;

const DEFAULT_TTL_SECONDS: i32 = 3600;

/// A viewer token to mint.
#[derive(InputObject)]
pub struct CreateViewerTokenInput {
    /// The events the token may read (default: all of the tenant's), AND-ed
    /// with every filter its holder sends.
    pub filter: Option<AuditEventFilter>,
    /// Seconds until it expires: 1 to 2,592,000 (30 days); null means the default.
    #[graphql(default = 3600)]
    pub ttl_seconds: Option<i32>,
}

/// A read-only bearer credential for one tenant's events matching a fixed
/// filter, until it expires. Send it like an API key; embed the console with
/// `/console#token=<token>`.
#[derive(SimpleObject)]
pub struct ViewerToken {
    /// The secret (`agv_…`). Shown only now.
    pub token: String,
    /// When it stops working.
    pub expires_at: DateTime,
}

/// What a viewer token is fixed to, as its holder sees it.
#[derive(SimpleObject)]
pub struct ViewerRestriction {
    /// The fixed filter, in the API's `AuditEventFilter` JSON.
    pub filter: Json,
    /// When the token stops working.
    pub expires_at: DateTime,
}

impl From<&ViewerGrant> for ViewerRestriction {
    fn from(grant: &ViewerGrant) -> Self {
        ViewerRestriction {
            filter: async_graphql::Json(grant.filter_json.clone()),
            expires_at: grant.expires_at.into(),
        }
    }
}

/// Mints a token for the caller's tenant.
pub async fn create(ctx: &Context<'_>, input: CreateViewerTokenInput) -> async_graphql::Result<ViewerToken> {
    let filter = input.filter.map(Into::into).unwrap_or_default();
    let ttl = input.ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS);
    let minted = viewer_tokens::mint(ctx.session(), filter, ttl).await?;
    Ok(ViewerToken { token: minted.secret, expires_at: minted.expires_at.into() })
}

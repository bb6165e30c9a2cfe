//! Who is asking: the caller of one request, as authentication found it, and
//! what a viewer token fixes for every request made with it. What the caller
//! may do is decided by the policy point (`service::policy`).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::event::{ActorType, NewActor};
use super::filter::Filter;
use super::ids::{ApiKeyId, TenantId};
use super::scope::Scopes;
use crate::error::{Error, Result};

/// The authenticated caller of one request.
#[derive(Clone, Debug)]
pub struct Requester {
    /// The tenant the request acts in.
    pub tenant: TenantId,
    pub tenant_slug: String,
    pub key_id: ApiKeyId,
    pub key_name: String,
    pub scopes: Scopes,
    /// Set when the credential is a viewer token: what it is fixed to. Its
    /// `key_id` is then the key that minted it (whose limits it shares).
    pub viewer: Option<Arc<ViewerGrant>>,
}

impl Requester {
    /// `FORBIDDEN` for a viewer token: for what only an API key may do.
    pub fn require_api_key(&self, what: &str) -> Result<()> {
        match self.viewer {
            Some(_) => Err(Error::Forbidden(format!("a viewer token may not {what}; use an API key"))),
            None => Ok(()),
        }
    }

    /// The actor that self-audit events name: the acting key.
    pub fn actor(&self) -> NewActor {
        NewActor {
            kind: ActorType::ApiKey,
            external_id: self.key_id.to_string(),
            display_name: Some(self.key_name.clone()),
            email: None,
            roles: Some(self.scopes.iter().map(|s| s.as_str().to_string()).collect()),
        }
    }
}

/// What a viewer token fixes for every request made with it.
#[derive(Clone, Debug)]
pub struct ViewerGrant {
    /// AND-ed into every filter the holder sends.
    pub filter: Filter,
    /// The same filter as the API writes it, shown to the holder.
    pub filter_json: serde_json::Value,
    pub expires_at: DateTime<Utc>,
}

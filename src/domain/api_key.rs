//! An API key as stored, without its secret (only a hash of it is kept, and
//! that stays in the store).

use chrono::{DateTime, Utc};

use super::ids::{ApiKeyId, TenantId};
use super::scope::Scopes;

#[derive(Clone, Debug, PartialEq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub tenant: TenantId,
    pub name: String,
    /// The first characters of the secret, to tell keys apart.
    pub prefix: String,
    pub scopes: Scopes,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

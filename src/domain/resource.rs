//! A resource as stored: something acted upon, with the name last recorded.

use chrono::{DateTime, Utc};

use super::ids::{ResourceId, TenantId};

#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    pub id: ResourceId,
    pub tenant: TenantId,
    pub kind: String,
    pub external_id: String,
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

//! A tenant as stored: an account or organisation, and how long its events are kept.

use chrono::{DateTime, Utc};

use super::ids::TenantId;

#[derive(Clone, Debug, PartialEq)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// Days events are kept after they are received; `None`: forever.
    pub retention_days: Option<i32>,
    /// While set, nothing of the tenant is purged.
    pub legal_hold: bool,
}

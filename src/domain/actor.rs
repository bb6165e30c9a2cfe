//! An actor as stored: who did something, with the profile last recorded.

use chrono::{DateTime, Utc};

use super::event::ActorType;
use super::ids::{ActorId, TenantId};

#[derive(Clone, Debug, PartialEq)]
pub struct Actor {
    pub id: ActorId,
    pub tenant: TenantId,
    pub kind: ActorType,
    pub external_id: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub roles: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

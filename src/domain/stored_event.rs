//! An event as it is stored: what every door serves and the ledger hashes.
//! Built once, from the row, by the store.

use chrono::{DateTime, Utc};
use serde_json::Value as Json;

use super::cursor::{Cursor, EventOrder, OrderField, SortKey};
use super::event::{Outcome, RequestContext};
use super::ids::{ActorId, EventId, ResourceId, TenantId};

/// A recorded audit event. Columns a reader did not ask for (see the
/// store's `Detail`) hold empty values: `{}`, `[]`, `None`.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    pub id: EventId,
    pub tenant: TenantId,
    /// Its position in the tenant's log: 1, 2, 3, … with no gap.
    pub sequence: i64,
    pub action: String,
    pub category: String,
    pub outcome: Outcome,
    pub occurred_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    /// The actor's current profile.
    pub actor_id: ActorId,
    /// The primary resource's current profile.
    pub resource_id: Option<ResourceId>,
    pub summary: Option<String>,
    pub reason: Option<String>,
    pub error_message: Option<String>,
    pub environment: Option<String>,
    pub source_service: Option<String>,
    pub correlation_id: Option<String>,
    pub request: Option<RequestContext>,
    /// A JSON object.
    pub metadata: Json,
    /// A JSON array of `{field, before, after}`.
    pub changes: Json,
    pub idempotency_key: Option<String>,
    /// `{"actor", "resource", "relatedResources"}` exactly as the producer
    /// described them with this event.
    pub recorded: Json,
}

impl StoredEvent {
    /// Where it stands in an ordering by `field`.
    pub fn sort_key(&self, field: OrderField) -> SortKey {
        match field {
            OrderField::OccurredAt => self.occurred_at.timestamp_micros(),
            OrderField::ReceivedAt => self.received_at.timestamp_micros(),
            OrderField::Sequence => self.sequence,
        }
    }

    /// Its cursor in `order`.
    pub fn cursor(&self, order: EventOrder) -> String {
        Cursor::Event { order, key: self.sort_key(order.field), id: self.id.0 }.encode()
    }

    /// Only what identifies it in its tenant's log (ID, tenant, sequence),
    /// every other field empty: what a recording answers a caller that may
    /// not read events.
    pub fn receipt(self) -> StoredEvent {
        StoredEvent {
            id: self.id,
            tenant: self.tenant,
            sequence: self.sequence,
            action: String::new(),
            category: String::new(),
            outcome: Outcome::Success,
            occurred_at: chrono::DateTime::UNIX_EPOCH,
            received_at: chrono::DateTime::UNIX_EPOCH,
            actor_id: super::ids::ActorId(uuid::Uuid::nil()),
            resource_id: None,
            summary: None,
            reason: None,
            error_message: None,
            environment: None,
            source_service: None,
            correlation_id: None,
            request: None,
            metadata: Json::Object(Default::default()),
            changes: Json::Array(Vec::new()),
            idempotency_key: None,
            recorded: Json::Null,
        }
    }

    /// Whether the server recorded it about itself (self-audit).
    pub fn is_self_audit(&self) -> bool {
        self.source_service.as_deref() == Some(super::event::SELF_AUDIT_SOURCE)
    }
}

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One recorded audit event. Append-only: nothing updates or deletes a row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "audit_event")]
pub struct Model {
    /// UUID v7, so IDs sort in recording order.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub action: String,
    /// The action's first segment.
    pub category: String,
    /// `SUCCESS` or `FAILURE`.
    pub outcome: String,
    pub occurred_at: DateTimeUtc,
    pub received_at: DateTimeUtc,
    pub actor_id: Uuid,
    pub resource_id: Option<Uuid>,
    pub summary: Option<String>,
    pub reason: Option<String>,
    pub error_message: Option<String>,
    pub environment: Option<String>,
    pub source_service: Option<String>,
    pub correlation_id: Option<String>,
    /// True when the event came with a request context (its fields may all be null).
    pub has_request: bool,
    pub request_id: Option<String>,
    pub request_method: Option<String>,
    pub request_path: Option<String>,
    pub request_status: Option<i32>,
    pub request_latency_ms: Option<f64>,
    /// Canonical text form of the address.
    pub request_ip: Option<String>,
    pub request_user_agent: Option<String>,
    /// A JSON object.
    pub metadata: Json,
    /// A JSON array of `{field, before, after}`.
    pub changes: Json,
    pub idempotency_key: Option<String>,
    /// Lower-cased action, summary, reason and error message, for the `text` filter.
    pub search_text: String,
    /// Position in the tenant's log: 1, 2, 3, … in commit order, no gap.
    pub sequence: i64,
    /// The actor and resources exactly as the producer described them in this
    /// event: `{"actor", "resource", "relatedResources"}` of the canonical event.
    pub recorded: Json,
    /// The event's words for the `search` filter (`domain::words`): folded
    /// tokens, each text's between spaces, texts on lines of their own.
    pub search_words: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

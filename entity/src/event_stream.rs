use sea_orm::entity::prelude::*;

/// An event stream: a destination receiving a tenant's matching events in
/// sequence order, with its delivery position and delivery lease.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "event_stream")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    /// `webhook` or `splunk_hec`.
    pub kind: String,
    pub url: String,
    /// The webhook signing secret (`whsec_…`) or the HEC token; never shown again.
    pub secret: String,
    pub splunk_index: Option<String>,
    /// The filter, as the API's `AuditEventFilter` JSON.
    pub filter: Json,
    pub paused: bool,
    /// The highest sequence examined and, where it matched, delivered.
    pub delivered_sequence: i64,
    pub last_delivered_at: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub failing_since: Option<DateTimeUtc>,
    /// The replica delivering the stream, until `lease_until`.
    pub lease_holder: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The query string AND-ed with the filter, compiled at each delivery
    /// (its relative times count back from then).
    pub query: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

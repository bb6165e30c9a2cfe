use sea_orm::entity::prelude::*;

/// An alert rule: a threshold on a tenant's matching events within a window,
/// with how far along the log it was evaluated and its evaluation lease.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "alert_rule")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    /// The filter, as the API's `AuditEventFilter` JSON.
    pub filter: Json,
    pub query: Option<String>,
    pub threshold: i32,
    pub window_seconds: i32,
    /// A JSON array of `StatsDimension` names.
    pub group_by: Json,
    pub cooldown_seconds: i32,
    pub paused: bool,
    /// Every sequence up to this one was evaluated.
    pub evaluated_sequence: i64,
    pub last_fired_at: Option<DateTimeUtc>,
    /// The replica evaluating the rule, until `lease_until`.
    pub lease_holder: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

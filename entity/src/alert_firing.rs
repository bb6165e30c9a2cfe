use sea_orm::entity::prelude::*;

/// The last firing of an alert rule for one key: what its cooldown counts from.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "alert_firing")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub rule_id: Uuid,
    /// The key as a JSON array of strings and nulls (`[]` without `groupBy`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub tenant_id: Uuid,
    /// The `receivedAt` of the event that crossed the threshold.
    pub window_end: DateTimeUtc,
    pub fired_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

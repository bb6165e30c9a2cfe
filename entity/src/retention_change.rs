use sea_orm::entity::prelude::*;
use serde::Serialize;

/// A change of a tenant's retention or legal hold, with the settings it replaced.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "retention_change")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub changed_at: DateTimeUtc,
    /// The retention in force until the change (`None`: forever).
    pub retention_days: Option<i32>,
    /// The legal hold in force until the change.
    pub legal_hold: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

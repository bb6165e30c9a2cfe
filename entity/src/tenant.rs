use sea_orm::entity::prelude::*;

/// An account or organisation: the unit of isolation.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub slug: String,
    pub name: String,
    pub created_at: DateTimeUtc,
    /// Days events are kept after they are received; `None` keeps them forever.
    pub retention_days: Option<i32>,
    /// While set, nothing of the tenant is purged, whatever its retention.
    pub legal_hold: bool,
    /// Events with sequence up to this one were purged (their leaves stay in the ledger).
    pub purged_through: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

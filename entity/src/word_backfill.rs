use sea_orm::entity::prelude::*;

/// A tenant's events that may still lack their search words (recorded
/// before the search step): those with a sequence from `next_sequence`
/// through `last_sequence`. The row goes once the range is done.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "word_backfill")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    pub next_sequence: i64,
    pub last_sequence: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

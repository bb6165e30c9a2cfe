use sea_orm::entity::prelude::*;

/// The master key the data keys are wrapped by (one row, `id` 1): its
/// fingerprint, so a different key is refused at start instead of making
/// every personal value unreadable, and the key itself when the operator
/// gave none (`--data-key`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "data_master")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub fingerprint: String,
    pub stored_key: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

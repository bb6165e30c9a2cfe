use sea_orm::entity::prelude::*;

/// The size of a tenant's log a witness cosigned last: where the next
/// submission's consistency proof starts.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "witness_position")]
pub struct Model {
    /// The witness's key: `<name>+<hex key ID>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub witness: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    pub size: i64,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

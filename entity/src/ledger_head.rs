use sea_orm::entity::prelude::*;

/// The head of a tenant's Merkle tree: its size and the hashes of the perfect
/// subtrees on its right edge, enough to append leaves and compute the root
/// without reading the tree. Its row lock orders the tenant's commits.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ledger_head")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// Leaves in the tree: the highest sequence assigned.
    pub size: i64,
    /// The right-edge hashes, 32 bytes each, largest subtree first.
    pub frontier: Vec<u8>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

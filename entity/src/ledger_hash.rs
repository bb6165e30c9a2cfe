use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One hash of a tenant's Merkle tree: a leaf or a complete subtree, at its
/// stored-hash index (the numbering of Go's `tlog` and C2SP tiles). Kept when
/// events are purged, so proofs of the remaining ones still verify.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "ledger_hash")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub idx: i64,
    pub hash: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

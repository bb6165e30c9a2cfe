use sea_orm::entity::prelude::*;

/// A witness's cosignature (`c2sp.org/tlog-cosignature`) of a persisted checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ledger_cosignature")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// The size of the checkpoint cosigned.
    #[sea_orm(primary_key, auto_increment = false)]
    pub size: i64,
    /// The witness's key: `<name>+<hex key ID>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub witness: String,
    /// The signature line, `— <name> <base64>` and its newline.
    pub signature: String,
    /// The time the witness put in the cosignature.
    pub cosigned_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

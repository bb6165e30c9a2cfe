use sea_orm::entity::prelude::*;

/// A checkpoint signing key the server generated because the operator gave
/// none (`--signing-key`). Whoever can write the database could forge
/// checkpoints with it; the server warns about that at every start.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_key")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// `PRIVATE+KEY+<name>+<hex id>+<base64>`.
    pub private_key: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

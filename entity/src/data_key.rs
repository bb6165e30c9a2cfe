use sea_orm::entity::prelude::*;

/// An actor's data key, which seals the personal values of its events,
/// wrapped by the server's master key. Erasing the actor deletes the row:
/// what it sealed can no longer be opened.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "data_key")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub actor_id: Uuid,
    pub tenant_id: Uuid,
    /// Base64 of the 12-byte nonce ‖ AES-256-GCM ciphertext of the key.
    pub wrapped: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

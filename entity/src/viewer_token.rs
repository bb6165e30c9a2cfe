use sea_orm::entity::prelude::*;

/// A viewer token: a read-only credential fixed to one tenant and one event
/// filter, minted by an API key. Only a SHA-256 hash of the secret is kept.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "viewer_token")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// The key that minted it: the token stops working when that key is revoked.
    pub api_key_id: Uuid,
    /// Hex SHA-256 of the whole secret.
    #[sea_orm(unique)]
    pub secret_hash: String,
    /// The fixed filter, as the API's `AuditEventFilter` JSON.
    pub filter: Json,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

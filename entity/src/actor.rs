use sea_orm::entity::prelude::*;
use serde::Serialize;

/// Who did something; unique per (tenant, type, external ID).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "actor")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// One of the GraphQL `ActorType` names, e.g. `USER`.
    #[sea_orm(column_name = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    pub external_id: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    /// A JSON array of strings; null until an event names the actor's roles.
    pub roles: Option<Json>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

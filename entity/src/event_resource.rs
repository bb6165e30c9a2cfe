use sea_orm::entity::prelude::*;
use serde::Serialize;

/// Links an event to the resources it involves. Position 0 is the primary
/// resource; positions 1.. are the related resources in input order. Keeping the
/// primary here too lets "involves this resource" be one indexed lookup.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "event_resource")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub position: i16,
    pub tenant_id: Uuid,
    pub resource_id: Uuid,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! Resources: created on first sight, keyed by (tenant, type, external ID). The
//! mechanism is [`identities`]; here is what is a resource's own, and the links
//! of events to their resources.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{event_resource, resource};
use sea_orm::sea_query::{ArrayType, Condition, Expr, ExprTrait, Query, SimpleExpr};
use sea_orm::{ConnectionTrait, FromQueryResult};
use uuid::Uuid;

use crate::domain::event::NewResource;
use crate::domain::filter::ResourceMatch;
use crate::domain::ids::{EventId, ResourceId, TenantId};
use crate::domain::page::{Page, PageResult};
use crate::domain::resource::Resource;
use crate::error::Result;

use super::identities::{self, Identity};

/// Identity of a resource within a tenant.
pub type ResourceKey = (String, String);

pub struct Resources;

impl Identity for Resources {
    type Entity = resource::Entity;
    type Model = resource::Model;
    type Column = resource::Column;
    type Spec = NewResource;
    type Key = ResourceKey;
    type Match = ResourceMatch;
    type Record = Resource;

    const NOUN: &'static str = "a resource";
    const ID: resource::Column = resource::Column::Id;
    const TENANT_ID: resource::Column = resource::Column::TenantId;
    const KIND: resource::Column = resource::Column::Kind;
    const EXTERNAL_ID: resource::Column = resource::Column::ExternalId;
    const UPDATED_AT: resource::Column = resource::Column::UpdatedAt;

    fn key(spec: &NewResource) -> ResourceKey {
        (spec.kind.clone(), spec.external_id.clone())
    }

    fn row_key(row: &resource::Model) -> Option<ResourceKey> {
        Some((row.kind.clone(), row.external_id.clone()))
    }

    fn external_id(key: &ResourceKey) -> &str {
        &key.1
    }

    fn id(row: &resource::Model) -> Uuid {
        row.id
    }

    fn merge(earlier: &mut NewResource, later: &NewResource) {
        if later.name.is_some() {
            earlier.name = later.name.clone();
        }
    }

    fn new_row(tenant: TenantId, spec: &NewResource, now: DateTime<Utc>) -> resource::Model {
        resource::Model {
            id: ResourceId::generate().0,
            tenant_id: tenant.0,
            kind: spec.kind.clone(),
            external_id: spec.external_id.clone(),
            name: spec.name.clone(),
            created_at: now,
            updated_at: now,
        }
    }

    fn changes(spec: &NewResource, row: &resource::Model) -> Vec<(resource::Column, SimpleExpr)> {
        match spec.name.is_some() && spec.name != row.name {
            true => vec![(resource::Column::Name, Expr::val(spec.name.clone()))],
            false => Vec::new(),
        }
    }

    fn matching(m: &ResourceMatch) -> Condition {
        super::filter::resource_match(m)
    }

    fn record(row: resource::Model) -> Resource {
        record(row)
    }
}

/// Creates or updates the resources (a later name wins; an omitted name keeps
/// the stored one) and returns each one's ID.
#[tracing::instrument(name = "db.resources.upsert", skip_all, fields(tenant = %tenant, n = specs.len()), err(Debug))]
pub async fn upsert(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    specs: Vec<&NewResource>,
    now: DateTime<Utc>,
) -> Result<HashMap<ResourceKey, ResourceId>> {
    let ids = identities::upsert::<Resources>(db, tenant, specs, now).await?;
    Ok(ids.into_iter().map(|(key, id)| (key, ResourceId(id))).collect())
}

/// A resource as linked to an event: position 0 is the primary resource.
#[derive(Debug, Clone, FromQueryResult)]
pub struct LinkedResource {
    pub event_id: Uuid,
    pub position: i16,
    pub id: Uuid,
    pub tenant_id: Uuid,
    #[sea_orm(from_alias = "type")]
    pub kind: String,
    pub external_id: String,
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl LinkedResource {
    pub fn into_record(self) -> Resource {
        Resource {
            id: ResourceId(self.id),
            tenant: TenantId(self.tenant_id),
            kind: self.kind,
            external_id: self.external_id,
            name: self.name,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// A stored resource as the domain's.
pub(super) fn record(row: resource::Model) -> Resource {
    Resource {
        id: ResourceId(row.id),
        tenant: TenantId(row.tenant_id),
        kind: row.kind,
        external_id: row.external_id,
        name: row.name,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// Every resource (primary and related) of these events, in one statement.
#[tracing::instrument(name = "db.resources.for_events", skip_all, fields(tenant = %tenant, n = events.len()), err(Debug))]
pub async fn for_events(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    events: &[EventId],
) -> Result<Vec<LinkedResource>> {
    let query = Query::select()
        .columns([
            (event_resource::Entity, event_resource::Column::EventId),
            (event_resource::Entity, event_resource::Column::Position),
        ])
        .columns([
            (resource::Entity, resource::Column::Id),
            (resource::Entity, resource::Column::TenantId),
            (resource::Entity, resource::Column::Kind),
            (resource::Entity, resource::Column::ExternalId),
            (resource::Entity, resource::Column::Name),
            (resource::Entity, resource::Column::CreatedAt),
            (resource::Entity, resource::Column::UpdatedAt),
        ])
        .from(event_resource::Entity)
        .inner_join(
            resource::Entity,
            Expr::col((resource::Entity, resource::Column::Id))
                .equals((event_resource::Entity, event_resource::Column::ResourceId)),
        )
        .and_where(Expr::col((event_resource::Entity, event_resource::Column::TenantId)).eq(tenant.0))
        .and_where(super::sql::any_of(
            db.get_database_backend(),
            (event_resource::Entity, event_resource::Column::EventId),
            events.iter().map(|e| e.0).collect(),
            ArrayType::Uuid,
        ))
        .to_owned();
    let backend = db.get_database_backend();
    Ok(LinkedResource::find_by_statement(backend.build(&query)).all(db).await?)
}

/// A page of the tenant's resources matching `m`, in ID (creation) order.
#[tracing::instrument(name = "db.resources.page", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn page(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    m: &ResourceMatch,
    page: &Page<Uuid>,
) -> Result<PageResult<Resource>> {
    identities::page::<Resources>(db, tenant, m, page).await
}

#[tracing::instrument(name = "db.resources.count", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn count(db: &impl ConnectionTrait, tenant: TenantId, m: &ResourceMatch) -> Result<i64> {
    identities::count::<Resources>(db, tenant, m).await
}

/// The resources with these IDs in the tenant (missing ones are absent).
#[tracing::instrument(name = "db.resources.by_ids", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn by_ids(db: &impl ConnectionTrait, tenant: TenantId, ids: &[ResourceId]) -> Result<Vec<Resource>> {
    identities::by_ids::<Resources>(db, tenant, ids.iter().map(|id| id.0).collect()).await
}

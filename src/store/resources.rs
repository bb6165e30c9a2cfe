//! Resources: created on first sight, keyed by (tenant, type, external ID).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{event_resource, resource};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::domain::cursor::Cursor;
use crate::domain::event::ResourceSpec;
use crate::domain::filter::ResourceMatch;
use crate::domain::ids::{EventId, ResourceId, TenantId};
use crate::domain::page::{Page, PageResult};
use crate::error::Result;

use super::filter;

const CHUNK: usize = 500;

/// Identity of a resource within a tenant.
pub type ResourceKey = (String, String);

/// Creates or updates the resources in the order given (a later name wins; an
/// omitted name keeps the stored one). Returns each resource's ID.
#[tracing::instrument(name = "db.resources.upsert", skip_all, fields(tenant = %tenant, n = specs.len()), err(Debug))]
pub async fn upsert(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    specs: Vec<&ResourceSpec>,
    now: DateTime<Utc>,
) -> Result<HashMap<ResourceKey, ResourceId>> {
    let mut merged: HashMap<ResourceKey, Option<String>> = HashMap::new();
    for spec in specs {
        let name = merged.entry((spec.kind.clone(), spec.external_id.clone())).or_default();
        if spec.name.is_some() {
            *name = spec.name.clone();
        }
    }
    let mut rows: Vec<(ResourceKey, Option<String>)> = merged.into_iter().collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));

    let mut ids = HashMap::with_capacity(rows.len());
    for chunk in rows.chunks(CHUNK) {
        let mut insert = Query::insert();
        insert.into_table(resource::Entity).columns([
            resource::Column::Id,
            resource::Column::TenantId,
            resource::Column::Kind,
            resource::Column::ExternalId,
            resource::Column::Name,
            resource::Column::CreatedAt,
            resource::Column::UpdatedAt,
        ]);
        for ((kind, external_id), name) in chunk {
            insert.values_panic([
                ResourceId::generate().0.into(),
                tenant.0.into(),
                kind.clone().into(),
                external_id.clone().into(),
                name.clone().into(),
                now.into(),
                now.into(),
            ]);
        }
        insert
            .on_conflict(
                OnConflict::columns([
                    resource::Column::TenantId,
                    resource::Column::Kind,
                    resource::Column::ExternalId,
                ])
                .value(
                    resource::Column::Name,
                    Expr::cust("COALESCE(excluded.name, resource.name)"),
                )
                .value(resource::Column::UpdatedAt, Expr::cust("excluded.updated_at"))
                .to_owned(),
            )
            .returning(Query::returning().columns([
                resource::Column::Id,
                resource::Column::Kind,
                resource::Column::ExternalId,
            ]));
        for row in db.query_all(&insert).await? {
            let id: Uuid = row.try_get("", "id")?;
            let kind: String = row.try_get("", "type")?;
            let external_id: String = row.try_get("", "external_id")?;
            ids.insert((kind, external_id), ResourceId(id));
        }
    }
    Ok(ids)
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
    pub fn into_model(self) -> resource::Model {
        resource::Model {
            id: self.id,
            tenant_id: self.tenant_id,
            kind: self.kind,
            external_id: self.external_id,
            name: self.name,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
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
        .and_where(
            Expr::col((event_resource::Entity, event_resource::Column::EventId)).is_in(events.iter().map(|e| e.0)),
        )
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
) -> Result<PageResult<resource::Model>> {
    let mut select = resource::Entity::find()
        .filter(resource::Column::TenantId.eq(tenant.0))
        .filter(filter::resource_match(m));
    if let Some(after) = page.after {
        select = select.filter(resource::Column::Id.gt(after));
    }
    if let Some(before) = page.before {
        select = select.filter(resource::Column::Id.lt(before));
    }
    let select = if page.backward {
        select.order_by_desc(resource::Column::Id)
    } else {
        select.order_by_asc(resource::Column::Id)
    };
    let rows = select.limit(page.fetch_limit()).all(db).await?;
    Ok(page.finish(rows))
}

pub async fn count(db: &impl ConnectionTrait, tenant: TenantId, m: &ResourceMatch) -> Result<i64> {
    let query = Query::select()
        .expr(Expr::col(resource::Column::Id).count())
        .from(resource::Entity)
        .and_where(Expr::col(resource::Column::TenantId).eq(tenant.0))
        .cond_where(filter::resource_match(m))
        .to_owned();
    super::count(db, &query).await
}

pub async fn by_ids(db: &impl ConnectionTrait, tenant: TenantId, ids: &[ResourceId]) -> Result<Vec<resource::Model>> {
    Ok(resource::Entity::find()
        .filter(resource::Column::TenantId.eq(tenant.0))
        .filter(resource::Column::Id.is_in(ids.iter().map(|id| id.0)))
        .all(db)
        .await?)
}

pub fn cursor(row: &resource::Model) -> String {
    Cursor::Resource(row.id).encode()
}

//! Resources: created on first sight, keyed by (tenant, type, external ID).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{event_resource, resource};
use sea_orm::sea_query::{ArrayType, Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
};
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

/// Creates or updates the resources (a later name wins; an omitted name keeps
/// the stored one) and returns each one's ID. Reads first, as actors do: an
/// unchanged resource costs no write and no row lock.
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
    let mut wanted: Vec<(ResourceKey, Option<String>)> = merged.into_iter().collect();
    wanted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut stored = stored(db, tenant, wanted.iter().map(|((_, ext), _)| ext.clone()).collect()).await?;

    let new: Vec<&(ResourceKey, Option<String>)> = wanted.iter().filter(|(k, _)| !stored.contains_key(k)).collect();
    let mut raced = Vec::new();
    for chunk in new.chunks(CHUNK) {
        let inserted = insert(db, tenant, chunk, now).await?;
        for (key, _) in chunk.iter() {
            match inserted.get(key) {
                Some(row) => {
                    stored.insert(key.clone(), row.clone());
                }
                None => raced.push(key.1.clone()),
            }
        }
    }
    if !raced.is_empty() {
        stored.extend(self::stored(db, tenant, raced).await?);
    }

    let mut ids = HashMap::with_capacity(wanted.len());
    for (key, name) in &wanted {
        let row =
            stored.get(key).ok_or_else(|| crate::error::Error::internal("a resource was neither found nor created"))?;
        if name.is_some() && *name != row.name {
            resource::Entity::update_many()
                .col_expr(resource::Column::Name, Expr::val(name.clone()).into())
                .col_expr(resource::Column::UpdatedAt, Expr::val(now).into())
                .filter(resource::Column::Id.eq(row.id))
                .exec(db)
                .await?;
        }
        ids.insert(key.clone(), ResourceId(row.id));
    }
    Ok(ids)
}

/// The tenant's resources with these external IDs, by identity.
async fn stored(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    external_ids: Vec<String>,
) -> Result<HashMap<ResourceKey, resource::Model>> {
    let backend = db.get_database_backend();
    let mut found = HashMap::new();
    // One array parameter on PostgreSQL; SQLite binds each value.
    let size = if backend == DbBackend::Postgres { external_ids.len().max(1) } else { CHUNK };
    for chunk in external_ids.chunks(size) {
        let rows = resource::Entity::find()
            .filter(resource::Column::TenantId.eq(tenant.0))
            .filter(super::sql::any_of(backend, resource::Column::ExternalId, chunk.to_vec(), ArrayType::String))
            .all(db)
            .await?;
        found.extend(rows.into_iter().map(|r| ((r.kind.clone(), r.external_id.clone()), r)));
    }
    Ok(found)
}

/// Inserts new resources; one created meanwhile by another batch is skipped
/// (and absent from the result).
async fn insert(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    specs: &[&(ResourceKey, Option<String>)],
    now: DateTime<Utc>,
) -> Result<HashMap<ResourceKey, resource::Model>> {
    let rows: Vec<resource::Model> = specs
        .iter()
        .map(|((kind, external_id), name)| resource::Model {
            id: ResourceId::generate().0,
            tenant_id: tenant.0,
            kind: kind.clone(),
            external_id: external_id.clone(),
            name: name.clone(),
            created_at: now,
            updated_at: now,
        })
        .collect();
    let identity = [resource::Column::TenantId, resource::Column::Kind, resource::Column::ExternalId];
    let created: std::collections::HashSet<Uuid> =
        super::sql::insert_skipping_conflicts::<resource::Entity>(db, &rows, &identity).await?.into_iter().collect();
    Ok(rows
        .into_iter()
        .filter(|r| created.contains(&r.id))
        .map(|r| ((r.kind.clone(), r.external_id.clone()), r))
        .collect())
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
) -> Result<PageResult<resource::Model>> {
    let mut select =
        resource::Entity::find().filter(resource::Column::TenantId.eq(tenant.0)).filter(filter::resource_match(m));
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

#[tracing::instrument(name = "db.resources.count", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn count(db: &impl ConnectionTrait, tenant: TenantId, m: &ResourceMatch) -> Result<i64> {
    let query = Query::select()
        .expr(Expr::col(resource::Column::Id).count())
        .from(resource::Entity)
        .and_where(Expr::col(resource::Column::TenantId).eq(tenant.0))
        .cond_where(filter::resource_match(m))
        .to_owned();
    super::sql::count(db, &query).await
}

#[tracing::instrument(name = "db.resources.by_ids", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn by_ids(db: &impl ConnectionTrait, tenant: TenantId, ids: &[ResourceId]) -> Result<Vec<resource::Model>> {
    Ok(resource::Entity::find()
        .filter(resource::Column::TenantId.eq(tenant.0))
        .filter(super::sql::any_of(
            db.get_database_backend(),
            resource::Column::Id,
            ids.iter().map(|id| id.0).collect(),
            ArrayType::Uuid,
        ))
        .all(db)
        .await?)
}

pub fn cursor(row: &resource::Model) -> String {
    Cursor::Resource(row.id).encode()
}

//! Actors: created on first sight, keyed by (tenant, type, external ID), updated
//! by later recordings.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::actor;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::domain::cursor::Cursor;
use crate::domain::event::{ActorSpec, ActorType};
use crate::domain::filter::ActorMatch;
use crate::domain::ids::{ActorId, TenantId};
use crate::domain::page::{Page, PageResult};
use crate::error::Result;

use super::filter;

/// Rows per upsert statement (9 parameters each, well under every backend's limit).
const CHUNK: usize = 500;

/// Identity of an actor within a tenant.
pub type ActorKey = (ActorType, String);

/// Creates or updates the actors, in the order given (later specs win field by
/// field; omitted fields keep their stored value). Returns each actor's ID.
#[tracing::instrument(name = "db.actors.upsert", skip_all, fields(tenant = %tenant, n = specs.len()), err(Debug))]
pub async fn upsert(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    specs: Vec<&ActorSpec>,
    now: DateTime<Utc>,
) -> Result<HashMap<ActorKey, ActorId>> {
    // Merge repeated actors first: one row may not be upserted twice in a statement.
    let mut merged: HashMap<ActorKey, ActorSpec> = HashMap::new();
    for spec in specs {
        let key = (spec.kind, spec.external_id.clone());
        match merged.get_mut(&key) {
            None => {
                merged.insert(key, spec.clone());
            }
            Some(seen) => {
                if spec.display_name.is_some() {
                    seen.display_name = spec.display_name.clone();
                }
                if spec.email.is_some() {
                    seen.email = spec.email.clone();
                }
                if spec.roles.is_some() {
                    seen.roles = spec.roles.clone();
                }
            }
        }
    }
    // A stable order, so concurrent batches lock rows in the same order.
    let mut rows: Vec<ActorSpec> = merged.into_values().collect();
    rows.sort_by(|a, b| (a.kind, &a.external_id).cmp(&(b.kind, &b.external_id)));

    let mut ids = HashMap::with_capacity(rows.len());
    for chunk in rows.chunks(CHUNK) {
        let mut insert = Query::insert();
        insert.into_table(actor::Entity).columns([
            actor::Column::Id,
            actor::Column::TenantId,
            actor::Column::Kind,
            actor::Column::ExternalId,
            actor::Column::DisplayName,
            actor::Column::Email,
            actor::Column::Roles,
            actor::Column::CreatedAt,
            actor::Column::UpdatedAt,
        ]);
        for spec in chunk {
            insert.values_panic([
                ActorId::generate().0.into(),
                tenant.0.into(),
                spec.kind.as_str().into(),
                spec.external_id.clone().into(),
                spec.display_name.clone().into(),
                spec.email.clone().into(),
                spec.roles.as_ref().map(|r| serde_json::json!(r)).into(),
                now.into(),
                now.into(),
            ]);
        }
        insert
            .on_conflict(
                OnConflict::columns([actor::Column::TenantId, actor::Column::Kind, actor::Column::ExternalId])
                    .value(
                        actor::Column::DisplayName,
                        Expr::cust("COALESCE(excluded.display_name, actor.display_name)"),
                    )
                    .value(
                        actor::Column::Email,
                        Expr::cust("COALESCE(excluded.email, actor.email)"),
                    )
                    .value(
                        actor::Column::Roles,
                        Expr::cust("COALESCE(excluded.roles, actor.roles)"),
                    )
                    .value(actor::Column::UpdatedAt, Expr::cust("excluded.updated_at"))
                    .to_owned(),
            )
            .returning(Query::returning().columns([actor::Column::Id, actor::Column::Kind, actor::Column::ExternalId]));
        for row in db.query_all(&insert).await? {
            let id: Uuid = row.try_get("", "id")?;
            let kind: String = row.try_get("", "type")?;
            let external_id: String = row.try_get("", "external_id")?;
            if let Some(kind) = ActorType::from_stored(&kind) {
                ids.insert((kind, external_id), ActorId(id));
            }
        }
    }
    Ok(ids)
}

/// The actors with these IDs in the tenant (missing ones are absent).
#[tracing::instrument(name = "db.actors.by_ids", skip_all, fields(tenant = %tenant, n = ids.len()), err(Debug))]
pub async fn by_ids(db: &impl ConnectionTrait, tenant: TenantId, ids: &[ActorId]) -> Result<Vec<actor::Model>> {
    Ok(actor::Entity::find()
        .filter(actor::Column::TenantId.eq(tenant.0))
        .filter(actor::Column::Id.is_in(ids.iter().map(|id| id.0)))
        .all(db)
        .await?)
}

/// A page of the tenant's actors matching `m`, in ID (creation) order.
#[tracing::instrument(name = "db.actors.page", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn page(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    m: &ActorMatch,
    page: &Page<Uuid>,
) -> Result<PageResult<actor::Model>> {
    let mut select = actor::Entity::find()
        .filter(actor::Column::TenantId.eq(tenant.0))
        .filter(filter::actor_match(m));
    if let Some(after) = page.after {
        select = select.filter(actor::Column::Id.gt(after));
    }
    if let Some(before) = page.before {
        select = select.filter(actor::Column::Id.lt(before));
    }
    let select = if page.backward {
        select.order_by_desc(actor::Column::Id)
    } else {
        select.order_by_asc(actor::Column::Id)
    };
    let rows = select.limit(page.fetch_limit()).all(db).await?;
    Ok(page.finish(rows))
}

pub async fn count(db: &impl ConnectionTrait, tenant: TenantId, m: &ActorMatch) -> Result<i64> {
    let query = Query::select()
        .expr(Expr::col(actor::Column::Id).count())
        .from(actor::Entity)
        .and_where(Expr::col(actor::Column::TenantId).eq(tenant.0))
        .cond_where(filter::actor_match(m))
        .to_owned();
    super::count(db, &query).await
}

pub fn cursor(row: &actor::Model) -> String {
    Cursor::Actor(row.id).encode()
}

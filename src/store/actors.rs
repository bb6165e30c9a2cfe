//! Actors: created on first sight, keyed by (tenant, type, external ID), updated
//! by later recordings.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::actor;
use sea_orm::sea_query::{ArrayType, Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::domain::cursor::Cursor;
use crate::domain::event::{ActorSpec, ActorType};
use crate::domain::filter::ActorMatch;
use crate::domain::ids::{ActorId, TenantId};
use crate::domain::page::{Page, PageResult};
use crate::error::Result;

use super::filter;

/// Rows per statement (9 parameters each, well under every backend's limit).
const CHUNK: usize = 500;

/// Identity of an actor within a tenant.
pub type ActorKey = (ActorType, String);

fn key_of(spec: &ActorSpec) -> ActorKey {
    (spec.kind, spec.external_id.clone())
}

/// Merges repeated actors in recording order: a later spec wins field by field,
/// an omitted field keeps the earlier value.
fn merge(specs: Vec<&ActorSpec>) -> Vec<ActorSpec> {
    let mut merged: HashMap<ActorKey, ActorSpec> = HashMap::new();
    for spec in specs {
        match merged.get_mut(&key_of(spec)) {
            None => {
                merged.insert(key_of(spec), spec.clone());
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
    let mut rows: Vec<ActorSpec> = merged.into_values().collect();
    // A stable order, so concurrent batches touch rows in the same order.
    rows.sort_by(|a, b| (a.kind, &a.external_id).cmp(&(b.kind, &b.external_id)));
    rows
}

fn roles_json(roles: &[String]) -> serde_json::Value {
    serde_json::json!(roles)
}

/// Creates or updates the actors (later specs win field by field; omitted
/// fields keep their stored value) and returns each one's ID. Reads first: an
/// actor that exists unchanged, the usual case, costs no write and no row lock,
/// so concurrent batches naming the same actors do not queue behind each other.
#[tracing::instrument(name = "db.actors.upsert", skip_all, fields(tenant = %tenant, n = specs.len()), err(Debug))]
pub async fn upsert(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    specs: Vec<&ActorSpec>,
    now: DateTime<Utc>,
) -> Result<HashMap<ActorKey, ActorId>> {
    let wanted = merge(specs);
    let mut stored = stored(db, tenant, wanted.iter().map(|s| s.external_id.clone()).collect()).await?;

    let new: Vec<&ActorSpec> = wanted.iter().filter(|s| !stored.contains_key(&key_of(s))).collect();
    let mut raced = Vec::new();
    for chunk in new.chunks(CHUNK) {
        let inserted = insert(db, tenant, chunk, now).await?;
        for spec in chunk {
            match inserted.get(&key_of(spec)) {
                Some(row) => {
                    stored.insert(key_of(spec), row.clone());
                }
                // Created meanwhile by a concurrent batch: read it back below.
                None => raced.push(spec.external_id.clone()),
            }
        }
    }
    if !raced.is_empty() {
        stored.extend(self::stored(db, tenant, raced).await?);
    }

    let mut ids = HashMap::with_capacity(wanted.len());
    for spec in &wanted {
        let row = stored
            .get(&key_of(spec))
            .ok_or_else(|| crate::error::Error::internal("an actor was neither found nor created"))?;
        let mut update = actor::Entity::update_many().filter(actor::Column::Id.eq(row.id));
        let mut changed = false;
        if spec.display_name.is_some() && spec.display_name != row.display_name {
            update = update.col_expr(actor::Column::DisplayName, Expr::val(spec.display_name.clone()).into());
            changed = true;
        }
        if spec.email.is_some() && spec.email != row.email {
            update = update.col_expr(actor::Column::Email, Expr::val(spec.email.clone()).into());
            changed = true;
        }
        if let Some(roles) = &spec.roles
            && row.roles.as_ref() != Some(&roles_json(roles))
        {
            update = update.col_expr(actor::Column::Roles, Expr::val(roles_json(roles)).into());
            changed = true;
        }
        if changed {
            update.col_expr(actor::Column::UpdatedAt, Expr::val(now).into()).exec(db).await?;
        }
        ids.insert(key_of(spec), ActorId(row.id));
    }
    Ok(ids)
}

/// The tenant's actors with these external IDs, by identity.
async fn stored(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    external_ids: Vec<String>,
) -> Result<HashMap<ActorKey, actor::Model>> {
    let backend = db.get_database_backend();
    let mut found = HashMap::new();
    // One array parameter on PostgreSQL; SQLite binds each value.
    let size = if backend == DbBackend::Postgres { external_ids.len().max(1) } else { CHUNK };
    for chunk in external_ids.chunks(size) {
        let rows = actor::Entity::find()
            .filter(actor::Column::TenantId.eq(tenant.0))
            .filter(super::sql::any_of(backend, actor::Column::ExternalId, chunk.to_vec(), ArrayType::String))
            .all(db)
            .await?;
        for row in rows {
            if let Some(kind) = ActorType::from_stored(&row.kind) {
                found.insert((kind, row.external_id.clone()), row);
            }
        }
    }
    Ok(found)
}

/// Inserts new actors; one created meanwhile by another batch is skipped (and
/// absent from the result).
async fn insert(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    specs: &[&ActorSpec],
    now: DateTime<Utc>,
) -> Result<HashMap<ActorKey, actor::Model>> {
    let rows: Vec<actor::Model> = specs
        .iter()
        .map(|spec| actor::Model {
            id: ActorId::generate().0,
            tenant_id: tenant.0,
            kind: spec.kind.as_str().to_string(),
            external_id: spec.external_id.clone(),
            display_name: spec.display_name.clone(),
            email: spec.email.clone(),
            roles: spec.roles.as_deref().map(roles_json),
            created_at: now,
            updated_at: now,
        })
        .collect();
    let identity = [actor::Column::TenantId, actor::Column::Kind, actor::Column::ExternalId];
    let created: std::collections::HashSet<Uuid> =
        super::sql::insert_skipping_conflicts::<actor::Entity>(db, &rows, &identity).await?.into_iter().collect();
    Ok(rows
        .into_iter()
        .filter(|r| created.contains(&r.id))
        .filter_map(|r| ActorType::from_stored(&r.kind).map(|kind| ((kind, r.external_id.clone()), r)))
        .collect())
}

/// The actors with these IDs in the tenant (missing ones are absent).
#[tracing::instrument(name = "db.actors.by_ids", skip_all, fields(tenant = %tenant, n = ids.len()), err(Debug))]
pub async fn by_ids(db: &impl ConnectionTrait, tenant: TenantId, ids: &[ActorId]) -> Result<Vec<actor::Model>> {
    let ids = ids.iter().map(|id| id.0).collect();
    Ok(actor::Entity::find()
        .filter(actor::Column::TenantId.eq(tenant.0))
        .filter(super::sql::any_of(db.get_database_backend(), actor::Column::Id, ids, ArrayType::Uuid))
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
    let mut select = actor::Entity::find().filter(actor::Column::TenantId.eq(tenant.0)).filter(filter::actor_match(m));
    if let Some(after) = page.after {
        select = select.filter(actor::Column::Id.gt(after));
    }
    if let Some(before) = page.before {
        select = select.filter(actor::Column::Id.lt(before));
    }
    let select =
        if page.backward { select.order_by_desc(actor::Column::Id) } else { select.order_by_asc(actor::Column::Id) };
    let rows = select.limit(page.fetch_limit()).all(db).await?;
    Ok(page.finish(rows))
}

#[tracing::instrument(name = "db.actors.count", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn count(db: &impl ConnectionTrait, tenant: TenantId, m: &ActorMatch) -> Result<i64> {
    let query = Query::select()
        .expr(Expr::col(actor::Column::Id).count())
        .from(actor::Entity)
        .and_where(Expr::col(actor::Column::TenantId).eq(tenant.0))
        .cond_where(filter::actor_match(m))
        .to_owned();
    super::sql::count(db, &query).await
}

pub fn cursor(row: &actor::Model) -> String {
    Cursor::Actor(row.id).encode()
}

//! Retention in the database: the tenants' settings, what a purge may remove,
//! and the one path by which events leave (a permit row, held only inside the
//! purging transaction, lets the append-only triggers allow the `DELETE`).

use chrono::{DateTime, Utc};
use entity::{audit_event as ev, event_resource, retention_change, tenant};
use sea_orm::sea_query::{Expr, ExprTrait, Query, SimpleExpr};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::permit::Permit;
use crate::domain::event::SELF_AUDIT_SOURCE;
use crate::domain::ids::TenantId;
use crate::error::Result;

/// Sets what is given of a tenant's retention (`Some(None)`: forever) and legal hold.
#[tracing::instrument(name = "db.retention.set", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn set(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    days: Option<Option<i32>>,
    legal_hold: Option<bool>,
) -> Result<()> {
    let mut row = tenant::ActiveModel { id: Set(tenant.0), ..Default::default() };
    if let Some(days) = days {
        row.retention_days = Set(days);
    }
    if let Some(hold) = legal_hold {
        row.legal_hold = Set(hold);
    }
    if days.is_none() && legal_hold.is_none() {
        return Ok(());
    }
    tenant::Entity::update(row).exec(db).await?;
    Ok(())
}

/// Keeps a change of the tenant's retention made at `at`, with the settings
/// in force until then.
#[tracing::instrument(name = "db.retention.record_change", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn record_change(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    before: (Option<i32>, bool),
    at: DateTime<Utc>,
) -> Result<()> {
    let row = retention_change::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        tenant_id: Set(tenant.0),
        changed_at: Set(at),
        retention_days: Set(before.0),
        legal_hold: Set(before.1),
    };
    retention_change::Entity::insert(row).exec_without_returning(db).await?;
    Ok(())
}

/// The settings that changes made after `since` replaced, of every tenant:
/// each was in force at some moment after `since`.
#[tracing::instrument(name = "db.retention.replaced_since", skip_all, err(Debug))]
pub async fn replaced_since(
    db: &impl ConnectionTrait,
    since: DateTime<Utc>,
) -> Result<Vec<(TenantId, Option<i32>, bool)>> {
    Ok(retention_change::Entity::find()
        .filter(retention_change::Column::ChangedAt.gt(since))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (TenantId(c.tenant_id), c.retention_days, c.legal_hold))
        .collect())
}

/// Tenants with a retention, on hold or not, oldest first.
#[tracing::instrument(name = "db.retention.tenants_with_retention", skip_all, err(Debug))]
pub async fn tenants_with_retention(db: &impl ConnectionTrait) -> Result<Vec<tenant::Model>> {
    Ok(tenant::Entity::find()
        .filter(tenant::Column::RetentionDays.is_not_null())
        .order_by_asc(tenant::Column::CreatedAt)
        .all(db)
        .await?)
}

/// The highest sequence `s` such that every event after `purged_through` up
/// to `s` was received before `before`: a purge removes a prefix of the log,
/// so what remains is exactly the events from `s + 1` on.
#[tracing::instrument(name = "db.retention.purgeable_through", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn purgeable_through(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    purged_through: i64,
    before: DateTime<Utc>,
) -> Result<i64> {
    let first_kept = Query::select()
        .expr(Expr::col(ev::Column::Sequence).min())
        .from(ev::Entity)
        .and_where(Expr::col(ev::Column::TenantId).eq(tenant.0))
        .and_where(Expr::col(ev::Column::Sequence).gt(purged_through))
        .and_where(Expr::col(ev::Column::ReceivedAt).gte(before))
        .to_owned();
    let last = Query::select()
        .expr(Expr::col(ev::Column::Sequence).max())
        .from(ev::Entity)
        .and_where(Expr::col(ev::Column::TenantId).eq(tenant.0))
        .to_owned();
    let first_kept = one_i64(db, &first_kept).await?;
    let through = match first_kept {
        Some(kept) => kept - 1,
        None => one_i64(db, &last).await?.unwrap_or(0),
    };
    Ok(std::cmp::max(through, purged_through))
}

/// What retention may remove: every event but those the server recorded
/// about itself, which are never purged (no setting can erase the record of
/// who changed the settings).
fn purgeable() -> SimpleExpr {
    Expr::col((ev::Entity, ev::Column::SourceService))
        .is_null()
        .or(Expr::col((ev::Entity, ev::Column::SourceService)).ne(SELF_AUDIT_SOURCE))
}

/// The tenant's lowest sequence above `after` that a purge would still
/// remove, if any: a purge that dropped whole months starts deleting there.
#[tracing::instrument(name = "db.retention.first_after", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn first_after(db: &impl ConnectionTrait, tenant: TenantId, after: i64) -> Result<Option<i64>> {
    let query = Query::select()
        .expr(Expr::col(ev::Column::Sequence).min())
        .from(ev::Entity)
        .and_where(Expr::col(ev::Column::TenantId).eq(tenant.0))
        .and_where(Expr::col(ev::Column::Sequence).gt(after))
        .and_where(purgeable())
        .to_owned();
    one_i64(db, &query).await
}

async fn one_i64(db: &impl ConnectionTrait, query: &sea_orm::sea_query::SelectStatement) -> Result<Option<i64>> {
    let row = db.query_one(query).await?;
    Ok(row.and_then(|r| r.try_get_by_index::<Option<i64>>(0).ok().flatten()))
}

/// The tenant's events with sequence in `(after, through]` that a purge
/// removes (all but the server's own records).
fn purged_range(tenant: TenantId, after: i64, through: i64) -> SimpleExpr {
    Expr::col((ev::Entity, ev::Column::TenantId))
        .eq(tenant.0)
        .and(Expr::col((ev::Entity, ev::Column::Sequence)).gt(after))
        .and(Expr::col((ev::Entity, ev::Column::Sequence)).lte(through))
        .and(purgeable())
}

/// Deletes the tenant's events with sequence in `(after, through]` (but the
/// server's own records), their resource links and their part of the counts
/// per day, under a permit held only by this transaction, and records how far
/// the log is purged. Returns the events deleted.
#[tracing::instrument(name = "db.retention.delete", skip_all, fields(tenant = %tenant, after, through), err(Debug))]
pub async fn delete_range(db: &impl ConnectionTrait, tenant: TenantId, after: i64, through: i64) -> Result<u64> {
    super::permit::grant(db, Permit::Purge, tenant).await?;
    let in_range = Query::select()
        .column(ev::Column::Id)
        .from(ev::Entity)
        .and_where(purged_range(tenant, after, through))
        .to_owned();
    event_resource::Entity::delete_many()
        .filter(event_resource::Column::TenantId.eq(tenant.0))
        .filter(event_resource::Column::EventId.in_subquery(in_range))
        .exec(db)
        .await?;
    super::day_counts::subtract(db, "audit_event", purged_range(tenant, after, through)).await?;
    let deleted = ev::Entity::delete_many().filter(purged_range(tenant, after, through)).exec(db).await?.rows_affected;
    super::permit::revoke(db, Permit::Purge, tenant).await?;
    tenant::Entity::update(tenant::ActiveModel {
        id: Set(tenant.0),
        purged_through: Set(through),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(deleted)
}

/// How many of the tenant's events with sequence in `(after, through]` a
/// purge removes.
#[tracing::instrument(name = "db.retention.count_range", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn count_range(db: &impl ConnectionTrait, tenant: TenantId, after: i64, through: i64) -> Result<i64> {
    let query = Query::select()
        .expr(Expr::cust("COUNT(*)"))
        .from(ev::Entity)
        .and_where(purged_range(tenant, after, through))
        .to_owned();
    super::sql::count(db, &query).await
}

/// Every event of the tenant up to this sequence was purged (but for those
/// retention never removes); 0 when nothing was.
#[tracing::instrument(name = "db.retention.purged_through", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn purged_through(db: &impl ConnectionTrait, tenant: TenantId) -> Result<u64> {
    let row = tenant::Entity::find_by_id(tenant.0).one(db).await?;
    Ok(row.map_or(0, |t| Ord::max(t.purged_through, 0) as u64))
}

//! Event streams: their definitions, delivery positions and delivery leases.
//! Every read and write of a tenant's streams names the tenant; the deliverer,
//! which serves every tenant, works by stream ID under a lease.

use chrono::{DateTime, Utc};
use entity::event_stream as es;
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};

use super::lease;
use crate::domain::event_stream::EventStream;
use crate::domain::ids::{EventStreamId, TenantId};
use crate::error::Result;

/// A stream to create.
pub struct NewStream {
    pub id: EventStreamId,
    pub name: String,
    pub kind: &'static str,
    pub url: String,
    pub secret: String,
    pub splunk_index: Option<String>,
    pub filter: serde_json::Value,
    pub query: Option<String>,
    pub delivered_sequence: i64,
}

#[tracing::instrument(name = "db.event_streams.insert", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn insert(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    stream: NewStream,
    now: DateTime<Utc>,
) -> Result<EventStream> {
    let model = es::Model {
        id: stream.id.0,
        tenant_id: tenant.0,
        name: stream.name,
        kind: stream.kind.to_string(),
        url: stream.url,
        secret: stream.secret,
        splunk_index: stream.splunk_index,
        filter: stream.filter,
        paused: false,
        delivered_sequence: stream.delivered_sequence,
        last_delivered_at: None,
        last_error: None,
        failing_since: None,
        lease_holder: None,
        lease_until: None,
        created_at: now,
        updated_at: now,
        query: stream.query,
    };
    let active = es::ActiveModel {
        id: Set(model.id),
        tenant_id: Set(model.tenant_id),
        name: Set(model.name.clone()),
        kind: Set(model.kind.clone()),
        url: Set(model.url.clone()),
        secret: Set(model.secret.clone()),
        splunk_index: Set(model.splunk_index.clone()),
        filter: Set(model.filter.clone()),
        paused: Set(false),
        delivered_sequence: Set(model.delivered_sequence),
        last_delivered_at: Set(None),
        last_error: Set(None),
        failing_since: Set(None),
        lease_holder: Set(None),
        lease_until: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        query: Set(model.query.clone()),
    };
    es::Entity::insert(active).exec_without_returning(db).await?;
    Ok(record(model))
}

/// A stored stream as the domain's.
fn record(row: es::Model) -> EventStream {
    EventStream {
        id: EventStreamId(row.id),
        tenant: TenantId(row.tenant_id),
        name: row.name,
        kind: row.kind,
        url: row.url,
        secret: row.secret,
        splunk_index: row.splunk_index,
        filter: row.filter,
        query: row.query,
        paused: row.paused,
        delivered_sequence: row.delivered_sequence,
        last_delivered_at: row.last_delivered_at,
        last_error: row.last_error,
        failing_since: row.failing_since,
        created_at: row.created_at,
    }
}

/// The tenant's streams, oldest first.
#[tracing::instrument(name = "db.event_streams.list", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn list(db: &impl ConnectionTrait, tenant: TenantId) -> Result<Vec<EventStream>> {
    Ok(es::Entity::find()
        .filter(es::Column::TenantId.eq(tenant.0))
        .order_by_asc(es::Column::CreatedAt)
        .order_by_asc(es::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(record)
        .collect())
}

/// How many streams the tenant has.
#[tracing::instrument(name = "db.event_streams.count", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn count(db: &impl ConnectionTrait, tenant: TenantId) -> Result<u64> {
    Ok(es::Entity::find().filter(es::Column::TenantId.eq(tenant.0)).count(db).await?)
}

/// One of the tenant's streams.
#[tracing::instrument(name = "db.event_streams.by_id", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn by_id(db: &impl ConnectionTrait, tenant: TenantId, id: EventStreamId) -> Result<Option<EventStream>> {
    Ok(es::Entity::find_by_id(id.0).filter(es::Column::TenantId.eq(tenant.0)).one(db).await?.map(record))
}

/// What an update changes; `None` leaves a field as it is.
#[derive(Default)]
pub struct Changes {
    pub name: Option<String>,
    pub filter: Option<serde_json::Value>,
    /// `Some(None)` removes the query.
    pub query: Option<Option<String>>,
    pub paused: Option<bool>,
}

/// Applies `changes` to one of the tenant's streams; `None` if it has no such stream.
#[tracing::instrument(name = "db.event_streams.update", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn update(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: EventStreamId,
    changes: Changes,
    now: DateTime<Utc>,
) -> Result<Option<EventStream>> {
    let mut query = es::Entity::update_many().col_expr(es::Column::UpdatedAt, Expr::val(now).into());
    if let Some(name) = changes.name {
        query = query.col_expr(es::Column::Name, Expr::val(name).into());
    }
    if let Some(filter) = changes.filter {
        query = query.col_expr(es::Column::Filter, Expr::val(filter).into());
    }
    if let Some(q) = changes.query {
        query = query.col_expr(es::Column::Query, Expr::val(q).into());
    }
    if let Some(paused) = changes.paused {
        query = query.col_expr(es::Column::Paused, Expr::val(paused).into());
    }
    query.filter(es::Column::Id.eq(id.0)).filter(es::Column::TenantId.eq(tenant.0)).exec(db).await?;
    by_id(db, tenant, id).await
}

/// Removes one of the tenant's streams; whether it existed.
#[tracing::instrument(name = "db.event_streams.delete", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn delete(db: &impl ConnectionTrait, tenant: TenantId, id: EventStreamId) -> Result<bool> {
    let done = es::Entity::delete_many()
        .filter(es::Column::Id.eq(id.0))
        .filter(es::Column::TenantId.eq(tenant.0))
        .exec(db)
        .await?;
    Ok(done.rows_affected > 0)
}

/// Streams of every tenant that `holder` could deliver now: not paused, and
/// whose lease is free, expired or already its own.
#[tracing::instrument(name = "db.event_streams.deliverable", skip_all, err(Debug))]
pub async fn deliverable(db: &impl ConnectionTrait, holder: &str, now: DateTime<Utc>) -> Result<Vec<EventStream>> {
    Ok(es::Entity::find()
        .filter(es::Column::Paused.eq(false))
        .filter(lease::open::<es::Entity>(holder, now))
        .order_by_asc(es::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(record)
        .collect())
}

/// Takes or renews the lease of a stream for `holder` until `until`, unless
/// another holder's lease is still running (or the stream is paused);
/// whether `holder` now holds it.
#[tracing::instrument(name = "db.event_streams.claim", skip_all, err(Debug))]
pub async fn claim(
    db: &impl ConnectionTrait,
    id: EventStreamId,
    holder: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool> {
    let row = Condition::all().add(es::Column::Id.eq(id.0)).add(es::Column::Paused.eq(false));
    lease::claim::<es::Entity>(db, row.into(), holder, now, until).await
}

/// Gives up every lease `holder` still has; how many.
#[tracing::instrument(name = "db.event_streams.release_all", skip_all, err(Debug))]
pub async fn release_all(db: &impl ConnectionTrait, holder: &str) -> Result<u64> {
    lease::release_all::<es::Entity>(db, holder).await
}

/// Saves the position `through` after a delivery (or after examining events
/// none of which matched), clearing any failure; only while `holder` holds
/// the lease and only forwards. Whether it was saved.
#[tracing::instrument(name = "db.event_streams.advance", skip_all, err(Debug))]
pub async fn advance(
    db: &impl ConnectionTrait,
    id: EventStreamId,
    holder: &str,
    through: u64,
    delivered: bool,
    now: DateTime<Utc>,
) -> Result<bool> {
    let mut query = es::Entity::update_many()
        .col_expr(es::Column::DeliveredSequence, Expr::val(through as i64).into())
        .col_expr(es::Column::FailingSince, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(es::Column::LastError, Expr::value(Option::<String>::None));
    if delivered {
        query = query.col_expr(es::Column::LastDeliveredAt, Expr::val(now).into());
    }
    let done = query
        .filter(es::Column::Id.eq(id.0))
        .filter(es::Column::LeaseHolder.eq(holder))
        .filter(es::Column::DeliveredSequence.lte(through as i64))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Records a failed attempt: the stream is failing since its first failure.
#[tracing::instrument(name = "db.event_streams.failed", skip_all, err(Debug))]
pub async fn failed(
    db: &impl ConnectionTrait,
    id: EventStreamId,
    holder: &str,
    message: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    es::Entity::update_many()
        .col_expr(es::Column::LastError, Expr::val(message).into())
        .col_expr(
            es::Column::FailingSince,
            Func::coalesce([Expr::col(es::Column::FailingSince), Expr::val(now)]).into(),
        )
        .filter(es::Column::Id.eq(id.0))
        .filter(es::Column::LeaseHolder.eq(holder))
        .exec(db)
        .await?;
    Ok(())
}

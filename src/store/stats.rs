//! Stats of a tenant's events, grouped by the database itself: the total and
//! the time range of the matches, the key combinations with the most events,
//! and counts per time bucket (PostgreSQL `date_trunc` in UTC, SQLite
//! `strftime`), all as epoch seconds so both backends answer alike.

use entity::audit_event as ev;
use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait, Order, Query, SelectStatement};
use sea_orm::{ConnectionTrait, DbBackend, IdenStatic, QueryResult};
use uuid::Uuid;

use crate::domain::cursor::OrderField;
use crate::domain::filter::Filter;
use crate::domain::ids::TenantId;
use crate::domain::stats::{StatsDimension, StatsInterval};
use crate::error::Result;

use super::filter;

/// One entry of a key as the database holds it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KeyValue {
    None,
    Text(String),
    /// An actor's ID.
    Id(Uuid),
    /// An HTTP status.
    Number(i32),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Id,
    Number,
}

/// A dimension's SQL expression over `audit_event` and the type it yields.
fn dimension(d: StatsDimension) -> (&'static str, Kind) {
    match d {
        StatsDimension::Action => (r#""audit_event"."action""#, Kind::Text),
        StatsDimension::Category => (r#""audit_event"."category""#, Kind::Text),
        StatsDimension::Outcome => (r#""audit_event"."outcome""#, Kind::Text),
        StatsDimension::Actor => (r#""audit_event"."actor_id""#, Kind::Id),
        // A primary-key probe per event, in the event's tenant.
        StatsDimension::ResourceType => (
            r#"(SELECT "r"."type" FROM "resource" AS "r" WHERE "r"."tenant_id" = "audit_event"."tenant_id" AND "r"."id" = "audit_event"."resource_id")"#,
            Kind::Text,
        ),
        StatsDimension::Environment => (r#""audit_event"."environment""#, Kind::Text),
        StatsDimension::SourceService => (r#""audit_event"."source_service""#, Kind::Text),
        StatsDimension::HttpStatus => (r#""audit_event"."request_status""#, Kind::Number),
    }
}

fn time_column(field: OrderField) -> String {
    format!(r#""audit_event"."{}""#, super::events::sort_column(field).as_str())
}

/// `instant` (an SQL expression) as whole epoch seconds.
fn epoch(instant: &str, backend: DbBackend) -> String {
    match backend {
        DbBackend::Postgres => format!("CAST(FLOOR(EXTRACT(EPOCH FROM {instant})) AS BIGINT)"),
        _ => format!("CAST(strftime('%s', {instant}) AS INTEGER)"),
    }
}

/// The first instant of the UTC bucket of `column`, in epoch seconds.
fn bucket_start(column: &str, interval: StatsInterval, backend: DbBackend) -> String {
    let start = match backend {
        DbBackend::Postgres => {
            let unit = match interval {
                StatsInterval::Minute => "minute",
                StatsInterval::Hour => "hour",
                StatsInterval::Day => "day",
                // ISO weeks: from Monday.
                StatsInterval::Week => "week",
                StatsInterval::Month => "month",
            };
            format!("date_trunc('{unit}', {column}, 'UTC')")
        }
        _ => match interval {
            StatsInterval::Minute => format!("strftime('%Y-%m-%d %H:%M:00', {column})"),
            StatsInterval::Hour => format!("strftime('%Y-%m-%d %H:00:00', {column})"),
            StatsInterval::Day => format!("date({column})"),
            // Back six days, then forward to the next Monday (or stay on it).
            StatsInterval::Week => format!("date({column}, '-6 days', 'weekday 1')"),
            StatsInterval::Month => format!("date({column}, 'start of month')"),
        },
    };
    epoch(&start, backend)
}

/// The tenant's events matching `filter`.
fn matching(tenant: TenantId, filter: &Filter, backend: DbBackend) -> SelectStatement {
    let mut query = Query::select();
    query
        .from(ev::Entity)
        .and_where(Expr::col((ev::Entity, ev::Column::TenantId)).eq(tenant.0))
        .and_where(filter::events_to_count(tenant, filter, backend));
    query
}

/// How many events match, and the first and last instants of `field` among
/// them (epoch seconds; `None` when nothing matches).
pub struct Totals {
    pub total: i64,
    pub first: Option<i64>,
    pub last: Option<i64>,
}

#[tracing::instrument(name = "db.stats.totals", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn totals(db: &impl ConnectionTrait, tenant: TenantId, filter: &Filter, field: OrderField) -> Result<Totals> {
    let backend = db.get_database_backend();
    let column = time_column(field);
    let mut query = matching(tenant, filter, backend);
    query
        .expr(Expr::cust("COUNT(*)"))
        .expr(Expr::cust(epoch(&format!("MIN({column})"), backend)))
        .expr(Expr::cust(epoch(&format!("MAX({column})"), backend)));
    let row = db.query_one(&query).await?;
    let Some(row) = row else { return Ok(Totals { total: 0, first: None, last: None }) };
    Ok(Totals {
        total: row.try_get_by_index::<i64>(0)?,
        first: row.try_get_by_index::<Option<i64>>(1)?,
        last: row.try_get_by_index::<Option<i64>>(2)?,
    })
}

/// Selects the key of `dims` (as `k0`, `k1`, …) and groups by it.
fn select_key(query: &mut SelectStatement, dims: &[StatsDimension], first_column: usize) {
    for (i, d) in dims.iter().enumerate() {
        query.expr_as(Expr::cust(dimension(*d).0), Alias::new(format!("k{i}")));
    }
    let positions = (first_column..first_column + dims.len()).map(|p| Expr::cust(p.to_string()));
    query.add_group_by(positions);
}

fn read_key(row: &QueryResult, dims: &[StatsDimension], at: usize) -> Result<Vec<KeyValue>> {
    let mut key = Vec::with_capacity(dims.len());
    for (i, d) in dims.iter().enumerate() {
        let value = match dimension(*d).1 {
            Kind::Text => row.try_get_by_index::<Option<String>>(at + i)?.map(KeyValue::Text),
            Kind::Id => row.try_get_by_index::<Option<Uuid>>(at + i)?.map(KeyValue::Id),
            Kind::Number => row.try_get_by_index::<Option<i32>>(at + i)?.map(KeyValue::Number),
        };
        key.push(value.unwrap_or(KeyValue::None));
    }
    Ok(key)
}

/// The `limit` key combinations of `dims` with the most matching events,
/// most first, ties by key (values bytewise, a value before none).
#[tracing::instrument(name = "db.stats.top_keys", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn top_keys(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    filter: &Filter,
    dims: &[StatsDimension],
    limit: u64,
) -> Result<Vec<(Vec<KeyValue>, i64)>> {
    let backend = db.get_database_backend();
    let mut query = matching(tenant, filter, backend);
    select_key(&mut query, dims, 1);
    query.expr_as(Expr::cust("COUNT(*)"), Alias::new("n"));
    query.order_by_expr(Expr::cust("COUNT(*)"), Order::Desc);
    for d in dims {
        let (sql, kind) = dimension(*d);
        query.order_by_expr(Expr::cust(sql).is_null(), Order::Asc);
        let sorted = match (backend, kind) {
            // Bytewise, as keys are ordered in the answer, whatever the column's collation.
            (DbBackend::Postgres, Kind::Text) => format!(r#"{sql} COLLATE "C""#),
            _ => sql.to_string(),
        };
        query.order_by_expr(Expr::cust(sorted), Order::Asc);
    }
    query.limit(limit);
    let rows = db.query_all_raw(super::sql::with_literal_limits(backend.build(&query))).await?;
    rows.iter().map(|row| Ok((read_key(row, dims, 0)?, row.try_get_by_index::<i64>(dims.len())?))).collect()
}

/// A count per time bucket of `field` (epoch seconds of its start) and key
/// of `dims`, only for the keys in `keys` when dimensions are given; at most
/// `limit` rows.
#[allow(clippy::too_many_arguments)]
#[tracing::instrument(name = "db.stats.buckets", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn buckets(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    filter: &Filter,
    field: OrderField,
    interval: StatsInterval,
    dims: &[StatsDimension],
    keys: &[Vec<KeyValue>],
    limit: u64,
) -> Result<Vec<(i64, Vec<KeyValue>, i64)>> {
    let backend = db.get_database_backend();
    let mut query = matching(tenant, filter, backend);
    query.expr_as(Expr::cust(bucket_start(&time_column(field), interval, backend)), Alias::new("b"));
    query.add_group_by([Expr::cust("1")]);
    select_key(&mut query, dims, 2);
    query.expr_as(Expr::cust("COUNT(*)"), Alias::new("n"));
    if !dims.is_empty() {
        query.cond_where(one_of(dims, keys));
    }
    query.limit(limit);
    let rows = db.query_all_raw(super::sql::with_literal_limits(backend.build(&query))).await?;
    rows.iter()
        .map(|row| {
            Ok((row.try_get_by_index::<i64>(0)?, read_key(row, dims, 1)?, row.try_get_by_index::<i64>(1 + dims.len())?))
        })
        .collect()
}

/// Events whose key is one of `keys` (a missing value equals only a missing value).
fn one_of(dims: &[StatsDimension], keys: &[Vec<KeyValue>]) -> Condition {
    keys.iter().fold(Condition::any(), |any, key| {
        let all = dims.iter().zip(key).fold(Condition::all(), |all, (d, value)| {
            let expr = Expr::cust(dimension(*d).0);
            all.add(match value {
                KeyValue::None => expr.is_null(),
                KeyValue::Text(v) => expr.eq(v.as_str()),
                KeyValue::Id(v) => expr.eq(*v),
                KeyValue::Number(v) => expr.eq(*v),
            })
        });
        any.add(all)
    })
}

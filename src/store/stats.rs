//! Stats of a tenant's events, grouped by the database itself: the total and
//! the time range of the matches, the key combinations with the most events,
//! and counts per time bucket (PostgreSQL `date_bin` / `date_trunc` in UTC,
//! SQLite `strftime`), all as epoch seconds so both backends answer alike.
//!
//! PostgreSQL answers all three in one statement ([`grouped`]) that reads the
//! matching events once instead of three times; SQLite runs [`totals`],
//! [`top_keys`] and [`buckets`].

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
pub(super) fn bucket_start(column: &str, interval: StatsInterval, backend: DbBackend) -> String {
    let start = match backend {
        DbBackend::Postgres => return epoch(&postgres_bucket(column, interval), backend),
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

/// The first instant of the UTC bucket of `column` as a PostgreSQL
/// `timestamptz`. Fixed-length buckets are `date_bin` steps from a Monday
/// midnight UTC: integer arithmetic on the stored instant, where
/// `date_trunc(…, 'UTC')` converts every event to and from the zone
/// (BENCHMARKS.md, issue 25). Months are not fixed and keep `date_trunc`.
fn postgres_bucket(column: &str, interval: StatsInterval) -> String {
    let step = match interval {
        StatsInterval::Minute => "1 minute",
        StatsInterval::Hour => "1 hour",
        StatsInterval::Day => "1 day",
        StatsInterval::Week => "7 days",
        StatsInterval::Month => return format!("date_trunc('month', {column}, 'UTC')"),
    };
    format!("date_bin('{step}', {column}, TIMESTAMPTZ '1970-01-05 00:00:00+00')")
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

/// How keys are ordered among themselves: values bytewise before none, per
/// dimension in order, `column(i)` naming the `i`-th dimension's value.
fn key_order(dims: &[StatsDimension], backend: DbBackend, column: impl Fn(usize) -> String) -> Vec<String> {
    let mut order = Vec::with_capacity(dims.len() * 2);
    for (i, d) in dims.iter().enumerate() {
        let sql = column(i);
        order.push(format!("{sql} IS NULL"));
        order.push(match (backend, dimension(*d).1) {
            // Bytewise, as keys are ordered in the answer, whatever the column's collation.
            (DbBackend::Postgres, Kind::Text) => format!(r#"{sql} COLLATE "C""#),
            _ => sql,
        });
    }
    order
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
    for sql in key_order(dims, backend, |i| dimension(dims[i]).0.to_string()) {
        query.order_by_expr(Expr::cust(sql), Order::Asc);
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

/// What a stats request counts: the tenant's events matching `filter`, by
/// the key of `dims` (its `limit` most frequent combinations) and, with an
/// interval, by time bucket of `field`.
#[derive(Clone, Copy)]
pub struct Grouping<'a> {
    pub tenant: TenantId,
    pub filter: &'a Filter,
    pub field: OrderField,
    pub interval: Option<StatsInterval>,
    pub dims: &'a [StatsDimension],
    pub limit: u64,
    /// At most this many buckets are read.
    pub bucket_limit: u64,
}

/// All a stats request needs, as [`grouped`] reads it.
pub struct Grouped {
    /// The total; with an interval, `first` and `last` are the starts of the
    /// first and last buckets (what the bound on buckets needs), else `None`.
    pub totals: Totals,
    /// As [`top_keys`] answers (empty without dimensions).
    pub top: Vec<(Vec<KeyValue>, i64)>,
    /// As [`buckets`] answers (empty without an interval).
    pub buckets: Vec<(i64, Vec<KeyValue>, i64)>,
}

/// The answers of [`totals`], [`top_keys`] and, with an `interval`,
/// [`buckets`] (at most its `bucket_limit` rows), from one PostgreSQL statement
/// that reads the matching events once: grouped by bucket and key in one
/// hash, then the total, the top keys and their buckets taken from those
/// groups. (`GROUPING SETS` of the three took longer: PostgreSQL hashes each
/// event once a set; BENCHMARKS.md, issue 25.)
#[tracing::instrument(name = "db.stats.grouped", skip_all, fields(tenant = %request.tenant), err(Debug))]
pub async fn grouped(db: &impl ConnectionTrait, request: &Grouping<'_>) -> Result<Grouped> {
    let Grouping { tenant, filter, field, interval, dims, limit, bucket_limit } = *request;
    let backend = DbBackend::Postgres;
    let mut matches = matching(tenant, filter, backend);
    for (i, d) in dims.iter().enumerate() {
        matches.expr_as(Expr::cust(dimension(*d).0), Alias::new(format!("k{i}")));
    }
    if let Some(interval) = interval {
        matches.expr_as(Expr::cust(postgres_bucket(&time_column(field), interval)), Alias::new("b"));
    }
    let inner = backend.build(&matches);

    let keys: Vec<String> = (0..dims.len()).map(|i| format!("k{i}")).collect();
    let list = |names: &[String], prefix: &str| names.iter().map(|n| format!("{prefix}{n}")).collect::<Vec<_>>();
    let grouping: Vec<String> = interval.map(|_| "b".to_string()).into_iter().chain(keys.clone()).collect();
    let group_by = match grouping.is_empty() {
        true => String::new(),
        false => format!(" GROUP BY {}", grouping.join(", ")),
    };
    // With buckets, `OFFSET 0` keeps the events' subquery whole, so the
    // planner estimates the groups of its bucket column at a default 200 a
    // key rather than one an event (what it guesses for any expression of an
    // instant), and so hashes the groups instead of sorting every event.
    let mut sql = format!(
        "WITH g AS MATERIALIZED (SELECT {columns}COUNT(*) AS n FROM ({inner}{whole}) AS e{group_by})",
        columns = grouping.iter().map(|c| format!("{c}, ")).collect::<String>(),
        inner = inner.sql,
        whole = if interval.is_some() { " OFFSET 0" } else { "" },
    );
    if !keys.is_empty() {
        let order = key_order(dims, backend, |i| format!("keys.k{i}")).join(", ");
        sql.push_str(&format!(
            ", keys AS (SELECT {k}, SUM(n) AS n FROM g GROUP BY {k}), \
             top AS (SELECT {keys_k}, keys.n FROM keys ORDER BY keys.n DESC, {order} LIMIT {limit})",
            k = keys.join(", "),
            keys_k = list(&keys, "keys.").join(", "),
        ));
    }
    let null_keys: String = keys.iter().map(|k| format!(", NULL AS {k}")).collect();
    sql.push_str(&format!(
        " SELECT 0 AS part, NULL::bigint AS b{null_keys}, COALESCE(SUM(g.n), 0)::bigint, {lo}, {hi} FROM g",
        lo = if interval.is_some() { epoch("MIN(g.b)", backend) } else { "NULL::bigint".to_string() },
        hi = if interval.is_some() { epoch("MAX(g.b)", backend) } else { "NULL::bigint".to_string() },
    ));
    if !keys.is_empty() {
        let top_keys = list(&keys, ", top.").concat();
        sql.push_str(&format!(" UNION ALL SELECT 1, NULL{top_keys}, top.n::bigint, NULL, NULL FROM top"));
    }
    if interval.is_some() {
        let join = match keys.is_empty() {
            true => String::new(),
            false => {
                let same = keys.iter().map(|k| format!("g.{k} IS NOT DISTINCT FROM top.{k}")).collect::<Vec<_>>();
                format!(" JOIN top ON {}", same.join(" AND "))
            }
        };
        sql.push_str(&format!(
            " UNION ALL (SELECT 2, {b}{g_keys}, g.n, NULL, NULL FROM g{join} LIMIT {bucket_limit})",
            b = epoch("g.b", backend),
            g_keys = list(&keys, ", g.").concat(),
        ));
    }

    let statement = sea_orm::Statement { sql, values: inner.values, db_backend: backend };
    let rows = db.query_all_raw(statement).await?;
    let mut out =
        Grouped { totals: Totals { total: 0, first: None, last: None }, top: Vec::new(), buckets: Vec::new() };
    for row in &rows {
        let at = 2 + dims.len();
        let n = row.try_get_by_index::<i64>(at)?;
        match row.try_get_by_index::<i32>(0)? {
            0 => {
                out.totals = Totals {
                    total: n,
                    first: row.try_get_by_index::<Option<i64>>(at + 1)?,
                    last: row.try_get_by_index::<Option<i64>>(at + 2)?,
                }
            }
            1 => out.top.push((read_key(row, dims, 2)?, n)),
            _ => out.buckets.push((row.try_get_by_index::<i64>(1)?, read_key(row, dims, 2)?, n)),
        }
    }
    Ok(out)
}

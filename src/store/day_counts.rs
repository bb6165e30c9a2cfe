//! Counts of a tenant's events per UTC day of occurrence, by action, by
//! outcome and by actor (`audit_event_day_count`). Recording adds to them and
//! retention subtracts what it removes, each in the transaction that changes
//! the events, so stats over whole days sum a few rows a day instead of
//! reading every event: the console's all-time overview of a
//! 1,000,000-event tenant read the events four times (BENCHMARKS.md, issue 25).
//! Parts of a day at the ends of a range are still counted from the events.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Datelike, TimeZone, Utc};
use entity::audit_event as ev;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query, SelectStatement, SimpleExpr, UnionType};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use uuid::Uuid;

use super::stats::{Grouped, Grouping, KeyValue, Totals};
use crate::domain::cursor::{OrderField, SortKey};
use crate::domain::filter::{Condition, Filter, Range};
use crate::domain::ids::TenantId;
use crate::domain::stats::{self, StatsDimension, StatsInterval};
use crate::domain::stored_event::StoredEvent;
use crate::error::Result;

const TABLE: &str = "audit_event_day_count";
const DAY: i64 = 86_400;
const DAY_MICROS: i64 = DAY * 1_000_000;
/// Counted rows per upsert statement (five parameters each).
const CHUNK: usize = 1_000;

/// A dimension counted per day; its number is its `dimension` in the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Counted {
    Action = 0,
    Outcome = 1,
    Actor = 2,
}

const COUNTED: [Counted; 3] = [Counted::Action, Counted::Outcome, Counted::Actor];

impl Counted {
    fn of(dimension: StatsDimension) -> Option<Counted> {
        match dimension {
            StatsDimension::Action => Some(Counted::Action),
            StatsDimension::Outcome => Some(Counted::Outcome),
            StatsDimension::Actor => Some(Counted::Actor),
            _ => None,
        }
    }

    /// The key as the table holds it: an actor by its ID in 32 lowercase
    /// hex digits, which order as the IDs do.
    fn key(self, event: &StoredEvent) -> String {
        match self {
            Counted::Action => event.action.clone(),
            Counted::Outcome => event.outcome.as_str().to_string(),
            Counted::Actor => event.actor_id.0.simple().to_string(),
        }
    }

    /// The same key as SQL over `audit_event`.
    fn key_sql(self, backend: DbBackend) -> &'static str {
        match (self, backend) {
            (Counted::Action, _) => r#""action""#,
            (Counted::Outcome, _) => r#""outcome""#,
            (Counted::Actor, DbBackend::Postgres) => r#"replace(CAST("actor_id" AS TEXT), '-', '')"#,
            (Counted::Actor, _) => r#"lower(hex("actor_id"))"#,
        }
    }

    fn read(self, key: String) -> KeyValue {
        match self {
            Counted::Actor => Uuid::parse_str(&key).map_or(KeyValue::Text(key), KeyValue::Id),
            _ => KeyValue::Text(key),
        }
    }
}

/// The epoch second of the midnight (UTC) that starts the day of `at`.
fn day_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(DAY) * DAY
}

/// The day of an event's occurrence as SQL, in the same epoch seconds.
fn day_sql(backend: DbBackend) -> String {
    super::stats::bucket_start(r#""occurred_at""#, StatsInterval::Day, backend)
}

/// Adds the recorded `events` of the tenant to its counts, in the order of
/// dimension, day and key (bytewise), the order [`subtract`] locks them in.
#[tracing::instrument(name = "db.day_counts.add", skip_all, fields(tenant = %tenant, n = events.len()), err(Debug))]
pub async fn add(db: &impl ConnectionTrait, tenant: TenantId, events: &[&StoredEvent]) -> Result<()> {
    let mut counts: BTreeMap<(i16, i64, String), i64> = BTreeMap::new();
    for event in events {
        let day = day_of(event.occurred_at);
        for counted in COUNTED {
            *counts.entry((counted as i16, day, counted.key(event))).or_default() += 1;
        }
    }
    let counts: Vec<_> = counts.into_iter().collect();
    for chunk in counts.chunks(CHUNK) {
        let mut insert = Query::insert();
        insert.into_table(Alias::new(TABLE)).columns(["tenant_id", "dimension", "day", "key", "n"].map(Alias::new));
        for ((dimension, day, key), n) in chunk {
            insert.values_panic([tenant.0.into(), (*dimension).into(), (*day).into(), key.clone().into(), (*n).into()]);
        }
        insert.on_conflict(
            OnConflict::columns(["tenant_id", "dimension", "day", "key"].map(Alias::new))
                .value(Alias::new("n"), Expr::col((Alias::new(TABLE), Alias::new("n"))).add(Expr::cust("excluded.n")))
                .to_owned(),
        );
        db.execute(&insert).await?;
    }
    Ok(())
}

/// The counts by `counted` of the rows of `table` (an events table) that
/// `matching` selects, as the table's columns `tenant_id, dimension, day, key, n`.
fn counts_of(counted: Counted, table: &str, matching: SimpleExpr, backend: DbBackend) -> SelectStatement {
    let mut select = Query::select();
    select
        .column(Alias::new("tenant_id"))
        .expr_as(Expr::cust((counted as i16).to_string()), Alias::new("dimension"))
        .expr_as(Expr::cust(day_sql(backend)), Alias::new("day"))
        .expr_as(Expr::cust(counted.key_sql(backend)), Alias::new("key"))
        .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
        .from(Alias::new(table))
        .and_where(matching)
        .add_group_by([Expr::cust("1"), Expr::cust("3"), Expr::cust("4")]);
    select
}

/// Takes the rows of `table` that `matching` selects out of the counts, before
/// they are deleted in the same transaction; counts that reach zero go.
#[tracing::instrument(name = "db.day_counts.subtract", skip_all, fields(table), err(Debug))]
pub async fn subtract(db: &impl ConnectionTrait, table: &str, matching: SimpleExpr) -> Result<()> {
    let backend = db.get_database_backend();
    let mut all = counts_of(Counted::Action, table, matching.clone(), backend);
    for counted in [Counted::Outcome, Counted::Actor] {
        all.union(UnionType::All, counts_of(counted, table, matching.clone(), backend));
    }
    let counts = backend.build(&all);
    let same = r#"c."tenant_id" = d."tenant_id" AND c."dimension" = d."dimension" AND c."day" = d."day" AND c."key" = d."key""#;
    let rows = r#"("tenant_id", "dimension", "day", "key")"#;
    let mut statements = Vec::with_capacity(3);
    if backend == DbBackend::Postgres {
        // Locked in the order recording upserts them (by dimension, day and
        // key bytewise, in one tenant), so a recording that adds to the same
        // days waits instead of deadlocking; a purge holds no ledger head.
        statements.push(format!(
            r#"SELECT 1 FROM "{TABLE}" WHERE {rows} IN (SELECT "tenant_id", "dimension", "day", "key" FROM ({}) AS d)
               ORDER BY "tenant_id", "dimension", "day", "key" COLLATE "C" FOR UPDATE"#,
            counts.sql
        ));
    }
    statements.extend([
        format!(r#"UPDATE "{TABLE}" AS c SET "n" = c."n" - d."n" FROM ({}) AS d WHERE {same}"#, counts.sql),
        format!(
            r#"DELETE FROM "{TABLE}" WHERE "n" <= 0 AND {rows} IN
               (SELECT "tenant_id", "dimension", "day", "key" FROM ({}) AS d)"#,
            counts.sql
        ),
    ]);
    for sql in statements {
        db.execute_raw(Statement { sql, values: counts.values.clone(), db_backend: backend }).await?;
    }
    Ok(())
}

/// How whole days of counts answer a stats request, when they can.
struct Plan {
    counted: Counted,
    /// With buckets (of days or longer), else counts per key.
    interval: Option<StatsInterval>,
    /// The counted days, `[from, to)` in epoch seconds, open where `None`.
    days: (Option<i64>, Option<i64>),
    /// The parts of a day at the range's ends, counted from the events.
    edges: Vec<Range<SortKey>>,
}

impl Plan {
    /// Counts per day answer `grouping` when it counts by at most one of the
    /// counted dimensions, in buckets (if any) of days or longer by
    /// occurrence, and its filter is nothing but ranges of `occurredAt`
    /// holding a whole day.
    fn of(grouping: &Grouping<'_>) -> Option<Plan> {
        let counted = match grouping.dims {
            [] => Counted::Outcome,
            [dimension] => Counted::of(*dimension)?,
            _ => return None,
        };
        let interval = match grouping.interval {
            None => None,
            Some(StatsInterval::Minute | StatsInterval::Hour) => return None,
            Some(_) if grouping.field != OrderField::OccurredAt => return None,
            interval => interval,
        };
        if !only_occurrence_ranges(grouping.filter) {
            return None;
        }
        let (low, high) = stats::bounds(grouping.filter, OrderField::OccurredAt);
        let from = low.map(|low| low.div_euclid(DAY_MICROS) * DAY + if low % DAY_MICROS == 0 { 0 } else { DAY });
        let to = high.map(|high| high.saturating_add(1).div_euclid(DAY_MICROS) * DAY);
        if let (Some(from), Some(to)) = (from, to)
            && from >= to
        {
            return None;
        }
        let mut edges = Vec::new();
        if let (Some(low), Some(from)) = (low, from)
            && low < from * 1_000_000
        {
            edges.push(Range { gte: Some(low), lt: Some(from * 1_000_000), ..Range::default() });
        }
        if let (Some(high), Some(to)) = (high, to)
            && high >= to * 1_000_000
        {
            edges.push(Range { gte: Some(to * 1_000_000), lte: Some(high), ..Range::default() });
        }
        Some(Plan { counted, interval, days: (from, to), edges })
    }
}

fn only_occurrence_ranges(filter: &Filter) -> bool {
    match filter {
        Filter::And(items) => items.iter().all(only_occurrence_ranges),
        Filter::Cond(Condition::Position(OrderField::OccurredAt, _)) => true,
        _ => false,
    }
}

/// What [`super::stats::grouped`] answers, from the counts per day where
/// they can answer it (`None` where they cannot), in one statement.
#[tracing::instrument(name = "db.day_counts.grouped", skip_all, fields(tenant = %grouping.tenant), err(Debug))]
pub async fn grouped(db: &impl ConnectionTrait, grouping: &Grouping<'_>) -> Result<Option<Grouped>> {
    let Some(plan) = Plan::of(grouping) else { return Ok(None) };
    let backend = db.get_database_backend();
    let tenant = grouping.tenant;

    let mut counts = Query::select();
    counts
        .columns(["tenant_id", "dimension", "day", "key", "n"].map(Alias::new))
        .from(Alias::new(TABLE))
        .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(Alias::new("dimension")).eq(plan.counted as i16));
    if let Some(from) = plan.days.0 {
        counts.and_where(Expr::col(Alias::new("day")).gte(from));
    }
    if let Some(to) = plan.days.1 {
        counts.and_where(Expr::col(Alias::new("day")).lt(to));
    }
    for edge in &plan.edges {
        let part = Filter::Cond(Condition::Position(OrderField::OccurredAt, edge.clone()));
        let matching = Expr::col((ev::Entity, ev::Column::TenantId))
            .eq(tenant.0)
            .and(super::filter::events_to_count(tenant, &part, backend));
        counts.union(UnionType::All, counts_of(plan.counted, "audit_event", matching, backend));
    }
    let counts = backend.build(&counts);
    let (day, by) = match plan.interval {
        Some(_) => (r#""day""#, r#""day", "key""#),
        None => ("CAST(0 AS BIGINT)", r#""key""#),
    };
    let sql = format!(r#"SELECT {day}, "key", CAST(SUM("n") AS BIGINT) FROM ({}) AS c GROUP BY {by}"#, counts.sql);
    let rows = db.query_all_raw(Statement { sql, values: counts.values, db_backend: backend }).await?;

    let mut per_key: HashMap<String, i64> = HashMap::new();
    let mut per_bucket: BTreeMap<(i64, String), i64> = BTreeMap::new();
    for row in &rows {
        let (key, n) = (row.try_get_by_index::<String>(1)?, row.try_get_by_index::<i64>(2)?);
        if n <= 0 {
            continue;
        }
        if let Some(interval) = plan.interval {
            let start = bucket(row.try_get_by_index::<i64>(0)?, interval);
            *per_bucket.entry((start, key.clone())).or_default() += n;
        }
        *per_key.entry(key).or_default() += n;
    }
    let totals = Totals {
        total: per_key.values().sum(),
        first: per_bucket.keys().next().map(|(start, _)| *start),
        last: per_bucket.keys().next_back().map(|(start, _)| *start),
    };
    let mut top: Vec<(String, i64)> = match grouping.dims.is_empty() {
        true => Vec::new(),
        false => per_key.into_iter().collect(),
    };
    // Most first, ties by key bytewise, as the events' grouping orders them.
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top.truncate(usize::try_from(grouping.limit).unwrap_or(usize::MAX));
    // Without a dimension a bucket counts every key; with one, the top keys' own.
    let chosen: HashSet<&str> = top.iter().map(|(key, _)| key.as_str()).collect();
    let mut buckets: BTreeMap<(i64, Option<String>), i64> = BTreeMap::new();
    for ((start, key), n) in per_bucket {
        match grouping.dims.is_empty() {
            true => *buckets.entry((start, None)).or_default() += n,
            false if chosen.contains(key.as_str()) => *buckets.entry((start, Some(key))).or_default() += n,
            false => {}
        }
    }
    drop(chosen);
    let limit = usize::try_from(grouping.bucket_limit).unwrap_or(usize::MAX);
    let counted = plan.counted;
    Ok(Some(Grouped {
        totals,
        top: top.into_iter().map(|(key, n)| (vec![counted.read(key)], n)).collect(),
        buckets: buckets
            .into_iter()
            .take(limit)
            .map(|((start, key), n)| (start, key.into_iter().map(|key| counted.read(key)).collect(), n))
            .collect(),
    }))
}

/// The start of the bucket of `interval` holding the day starting at `day`:
/// weeks start on Monday, as everywhere in stats.
fn bucket(day: i64, interval: StatsInterval) -> i64 {
    const MONDAY: i64 = 4 * DAY; // 1970-01-05
    match interval {
        StatsInterval::Week => day - (day - MONDAY).rem_euclid(7 * DAY),
        StatsInterval::Month => {
            let at = DateTime::from_timestamp(day, 0).unwrap_or_default();
            Utc.with_ymd_and_hms(at.year(), at.month(), 1, 0, 0, 0).single().map_or(day, |m| m.timestamp())
        }
        _ => day,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_fall_into_their_weeks_and_months() {
        let day = |text: &str| DateTime::parse_from_rfc3339(text).unwrap().timestamp();
        // Sunday 2026-03-01 is in the week of Monday 2026-02-23, and in March.
        assert_eq!(bucket(day("2026-03-01T00:00:00Z"), StatsInterval::Week), day("2026-02-23T00:00:00Z"));
        assert_eq!(bucket(day("2026-03-02T00:00:00Z"), StatsInterval::Week), day("2026-03-02T00:00:00Z"));
        assert_eq!(bucket(day("2026-03-01T00:00:00Z"), StatsInterval::Month), day("2026-03-01T00:00:00Z"));
        assert_eq!(bucket(day("2026-02-28T00:00:00Z"), StatsInterval::Month), day("2026-02-01T00:00:00Z"));
        assert_eq!(bucket(day("1969-12-29T00:00:00Z"), StatsInterval::Week), day("1969-12-29T00:00:00Z"));
        assert_eq!(day_of(DateTime::parse_from_rfc3339("1969-12-31T23:59:59Z").unwrap().to_utc()), -DAY);
    }
}

//! Stats of the caller's events (API.md Part 3, "Stats"): authorized like any
//! read, confined to a viewer token's filter, grouped by the database on the
//! session's reader: the total with its time range, the top key combinations,
//! and the time buckets, in one statement on PostgreSQL and three on SQLite,
//! or from the counts per day where whole days answer the request.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend};

use crate::domain::ids::ActorId;
use crate::domain::stats::{self, Stats, StatsBucket, StatsInterval, StatsRequest};
use crate::error::Result;
use crate::store::day_counts;
use crate::store::stats::{self as store, KeyValue};

use super::policy::Operation;
use super::session::Session;

/// The stats of the caller's events matching `request`. `interval_path`
/// names the interval argument in refusals of too many buckets.
pub async fn stats(session: &Session, request: StatsRequest, interval_path: &str) -> Result<Stats> {
    let requester = session.authorize(Operation::ReadEvents)?;
    let tenant = requester.tenant;
    let filter = Session::confine(requester, request.filter);
    let reader = session.reader();
    let field = request.time_field;

    // A range the filter bounds on both ends is checked before any query.
    let (low, high) = stats::bounds(&filter, field);
    if let (Some(interval), Some(low), Some(high)) = (request.interval, low, high) {
        stats::check_buckets(interval.span(micros(low), micros(high)), interval_path)?;
    }

    let dims = &request.group_by;
    let grouping = store::Grouping {
        tenant,
        filter: &filter,
        field,
        interval: request.interval,
        dims,
        limit: request.limit,
        // One past the bound, to tell a request that needs more.
        bucket_limit: stats::MAX_BUCKETS as u64 + 1,
    };
    let grouped = match day_counts::grouped(reader, &grouping).await? {
        Some(grouped) => grouped,
        None => match reader.get_database_backend() {
            DbBackend::Postgres => store::grouped(reader, &grouping).await?,
            _ => one_by_one(reader, &grouping, interval_path).await?,
        },
    };
    let store::Grouped { totals, top, buckets: rows } = grouped;
    if totals.total == 0 {
        return Ok(Stats { total: 0, buckets: Vec::new(), other_count: 0 });
    }
    check_span(request.interval, &totals, interval_path)?;

    let other_count = match dims.is_empty() {
        true => 0,
        false => totals.total - top.iter().map(|(_, n)| n).sum::<i64>(),
    };

    let mut buckets = match request.interval {
        None if dims.is_empty() => vec![StatsBucket { start: None, key: Vec::new(), count: totals.total }],
        None => top.into_iter().map(|(key, count)| StatsBucket { start: None, key: show(key), count }).collect(),
        Some(_) => {
            stats::check_buckets(rows.len() as u64, interval_path)?;
            rows.into_iter()
                .map(|(start, key, count)| StatsBucket { start: Some(seconds(start)), key: show(key), count })
                .collect()
        }
    };
    stats::sort_buckets(&mut buckets);
    Ok(Stats { total: totals.total, buckets, other_count })
}

/// What [`store::grouped`] answers, in three statements (SQLite); the span
/// is checked before the buckets are grouped, since it bounds them.
async fn one_by_one(
    reader: &impl ConnectionTrait,
    grouping: &store::Grouping<'_>,
    interval_path: &str,
) -> Result<store::Grouped> {
    let store::Grouping { tenant, filter, field, interval, dims, limit, bucket_limit } = *grouping;
    let totals = store::totals(reader, tenant, filter, field).await?;
    if totals.total == 0 {
        return Ok(store::Grouped { totals, top: Vec::new(), buckets: Vec::new() });
    }
    check_span(interval, &totals, interval_path)?;
    let top = match dims.is_empty() {
        true => Vec::new(),
        false => store::top_keys(reader, tenant, filter, dims, limit).await?,
    };
    let buckets = match interval {
        None => Vec::new(),
        Some(interval) => {
            let keys: Vec<Vec<KeyValue>> = top.iter().map(|(key, _)| key.clone()).collect();
            store::buckets(reader, tenant, filter, field, interval, dims, &keys, bucket_limit).await?
        }
    };
    Ok(store::Grouped { totals, top, buckets })
}

/// The buckets from the first to the last match are within the bound.
fn check_span(interval: Option<StatsInterval>, totals: &store::Totals, interval_path: &str) -> Result<()> {
    match (interval, totals.first, totals.last) {
        (Some(interval), Some(first), Some(last)) => {
            stats::check_buckets(interval.span(seconds(first), seconds(last)), interval_path)
        }
        _ => Ok(()),
    }
}

/// A key as the API shows it: actors by node ID, statuses in decimal.
fn show(key: Vec<KeyValue>) -> Vec<Option<String>> {
    key.into_iter()
        .map(|value| match value {
            KeyValue::None => None,
            KeyValue::Text(text) => Some(text),
            KeyValue::Id(id) => Some(ActorId(id).to_string()),
            KeyValue::Number(n) => Some(n.to_string()),
        })
        .collect()
}

fn micros(at: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at).unwrap_or_default()
}

fn seconds(at: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(at, 0).unwrap_or_default()
}

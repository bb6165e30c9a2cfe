//! Stats of the caller's events (API.md Part 3, "Stats"): authorized like any
//! read, confined to a viewer token's filter, grouped by the database on the
//! session's reader. At most three statements: the total with its time range,
//! the top key combinations, and the time buckets.

use chrono::{DateTime, Utc};

use crate::domain::ids::ActorId;
use crate::domain::stats::{self, Stats, StatsBucket, StatsRequest};
use crate::error::Result;
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

    let totals = store::totals(reader, tenant, &filter, field).await?;
    if totals.total == 0 {
        return Ok(Stats { total: 0, buckets: Vec::new(), other_count: 0 });
    }
    if let (Some(interval), Some(first), Some(last)) = (request.interval, totals.first, totals.last) {
        stats::check_buckets(interval.span(seconds(first), seconds(last)), interval_path)?;
    }

    let dims = &request.group_by;
    let top = match dims.is_empty() {
        true => Vec::new(),
        false => store::top_keys(reader, tenant, &filter, dims, request.limit).await?,
    };
    let other_count = match dims.is_empty() {
        true => 0,
        false => totals.total - top.iter().map(|(_, n)| n).sum::<i64>(),
    };

    let mut buckets = match request.interval {
        None if dims.is_empty() => vec![StatsBucket { start: None, key: Vec::new(), count: totals.total }],
        None => top.into_iter().map(|(key, count)| StatsBucket { start: None, key: show(key), count }).collect(),
        Some(interval) => {
            let keys: Vec<Vec<KeyValue>> = top.into_iter().map(|(key, _)| key).collect();
            let bound = stats::MAX_BUCKETS as u64;
            let rows = store::buckets(reader, tenant, &filter, field, interval, dims, &keys, bound + 1).await?;
            stats::check_buckets(rows.len() as u64, interval_path)?;
            rows.into_iter()
                .map(|(start, key, count)| StatsBucket { start: Some(seconds(start)), key: show(key), count })
                .collect()
        }
    };
    stats::sort_buckets(&mut buckets);
    Ok(Stats { total: totals.total, buckets, other_count })
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

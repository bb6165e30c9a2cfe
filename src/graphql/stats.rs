//! `auditEventStats`: the shape of the caller's events.

use async_graphql::{Context, SimpleObject};

use super::context::ContextExt;
use super::enums::{AuditEventOrderField, StatsDimension, StatsInterval};
use super::filter_input::AuditEventFilter;
use super::scalars::DateTime;
use crate::domain::stats::{self, StatsArgNames, StatsRequest};
use crate::service::stats as service;

/// The argument names, for refusals.
const NAMES: StatsArgNames =
    StatsArgNames { group_by: "groupBy", interval: "interval", time_field: "timeField", limit: "limit" };

/// How many events match, per key combination and time bucket.
#[derive(SimpleObject)]
pub struct AuditEventStats {
    /// The matching events.
    pub total: i64,
    /// Non-empty buckets: by `start`, then `count` descending, then `key`.
    pub buckets: Vec<StatsBucket>,
    /// Matching events outside the key combinations that got buckets.
    pub other_count: i64,
}

/// The events of one time bucket and key combination.
#[derive(SimpleObject)]
pub struct StatsBucket {
    /// The bucket's first instant (null without `interval`).
    pub start: Option<DateTime>,
    /// One value per `groupBy` dimension, in order; null where the event has none.
    pub key: Vec<Option<String>>,
    /// Its events.
    pub count: i64,
}

/// The arguments of `auditEventStats`.
pub struct StatsArgs {
    pub filter: Option<AuditEventFilter>,
    pub query: Option<String>,
    pub group_by: Option<Vec<StatsDimension>>,
    pub interval: Option<StatsInterval>,
    pub time_field: Option<AuditEventOrderField>,
    pub limit: Option<i32>,
}

pub async fn resolve(ctx: &Context<'_>, args: StatsArgs) -> async_graphql::Result<AuditEventStats> {
    let filter = AuditEventFilter::combine(ctx, args.filter, args.query.as_deref())?;
    let group_by = args.group_by.unwrap_or_default().into_iter().map(Into::into).collect();
    let request = StatsRequest::new(
        filter,
        group_by,
        args.interval.map(Into::into),
        args.time_field.unwrap_or_default().into(),
        args.limit,
        &NAMES,
    )?;
    let answer = service::stats(ctx.session(), request, NAMES.interval).await?;
    Ok(AuditEventStats {
        total: answer.total,
        buckets: answer.buckets.into_iter().map(bucket).collect(),
        other_count: answer.other_count,
    })
}

fn bucket(b: stats::StatsBucket) -> StatsBucket {
    StatsBucket { start: b.start.map(Into::into), key: b.key, count: b.count }
}

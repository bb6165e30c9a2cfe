//! What a caller asks events to match: a written filter and a query string,
//! AND-ed. Every door (GraphQL lists and subscriptions, REST `q`, export
//! `q`, event streams) combines them here, so a query meets the same bounds,
//! tenant scope and viewer-token confinement as any filter.

use chrono::{DateTime, Utc};

use crate::domain::filter::Filter;
use crate::domain::filter_spec::FilterSpec;
use crate::domain::query;
use crate::error::Result;

use super::policy::Operation;
use super::session::Session;

/// `filter` AND `query`, validated; refusals name `filter…` or `query`.
/// `now` is the instant the query's relative times count back from.
pub fn combine(filter: Option<FilterSpec>, query: Option<&str>, now: DateTime<Utc>) -> Result<Filter> {
    combine_at(filter, "filter", query, "query", now)
}

/// [`combine`] for a door whose inputs have other names (REST's `q`).
pub fn combine_at(
    filter: Option<FilterSpec>,
    filter_path: &str,
    query: Option<&str>,
    query_path: &str,
    now: DateTime<Utc>,
) -> Result<Filter> {
    let filter = FilterSpec::optional(filter, filter_path)?;
    match query {
        None => Ok(filter),
        Some(q) => Ok(filter.and(parse(q, query_path, now)?.into_filter(query_path)?)),
    }
}

/// The filter a query string stands for, as written (`parseAuditQuery`),
/// checked against the filter bounds.
pub fn parse(query: &str, path: &str, now: DateTime<Utc>) -> Result<FilterSpec> {
    let spec = query::compile(query, path, now)?;
    spec.clone().into_filter(path)?;
    Ok(spec)
}

/// `parseAuditQuery`: the filter a caller's query stands for, for a caller
/// who may read events.
pub fn explain(session: &Session, query: &str) -> Result<FilterSpec> {
    session.authorize(Operation::ReadEvents)?;
    parse(query, "query", session.services().store.now())
}

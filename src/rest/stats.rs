//! `GET /v1/events/stats`: GraphQL's `auditEventStats` with the filter
//! parameters of `GET /v1/events`.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::SecondsFormat;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::problem::{Problem, Refusal};
use super::query::{EventsQuery, number, once, word};
use super::{json, reply, session};
use crate::domain::cursor::OrderField;
use crate::domain::stats::{StatsArgNames, StatsDimension, StatsInterval, StatsRequest};
use crate::error::{Error, Result};
use crate::http::AppState;
use crate::service::stats as service;

const NAMES: StatsArgNames =
    StatsArgNames { group_by: "group_by", interval: "interval", time_field: "time_field", limit: "limit" };

/// The parameters of `GET /v1/events/stats` beside the filter parameters of
/// `GET /v1/events` (`order` and `cursor` excepted).
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query, style = Form)]
pub struct StatsQuery {
    /// Group by this dimension (repeat, or separate with commas; at most 3, in order):
    /// `action`, `category`, `outcome`, `actor`, `resource_type`, `environment`,
    /// `source_service`, `http_status`.
    #[param(required = false)]
    pub group_by: Vec<String>,
    /// Count per UTC time bucket too: `minute`, `hour`, `day`, `week` (from Monday) or `month`.
    pub interval: Option<String>,
    /// The instant bucketed by: `occurred_at` (default) or `received_at`.
    pub time_field: Option<String>,
    /// Key combinations given buckets: 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i32>,
    /// A query string, AND-ed with the filter parameters.
    pub q: Option<String>,
}

/// How many events match, per key combination and time bucket.
#[derive(Serialize, ToSchema)]
pub struct StatsBody {
    /// The matching events.
    pub total: i64,
    /// Non-empty buckets: by `start`, then `count` descending, then `key`.
    pub buckets: Vec<BucketBody>,
    /// Matching events outside the key combinations that got buckets.
    pub other_count: i64,
}

/// The events of one time bucket and key combination.
#[derive(Serialize, ToSchema)]
pub struct BucketBody {
    /// The bucket's first instant (null without `interval`).
    pub start: Option<String>,
    /// One value per `group_by` dimension; null where the event has none.
    pub key: Vec<Option<String>>,
    /// Its events.
    pub count: i64,
}

/// Counts the caller's events matching the filter parameters, grouped. Needs `audit.read`.
#[utoipa::path(
    get, path = "/v1/events/stats", tag = "events", params(StatsQuery), operation_id = "eventStats",
    responses(
        (status = 200, description = "The counts", body = StatsBody),
        (status = 400, description = "A parameter is malformed, or more than 1,000 buckets would be needed", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks `audit.read`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn stats(State(app): State<AppState>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    reply(&headers, event_stats(&app, &headers, raw.as_deref()).await)
}

async fn event_stats(app: &AppState, headers: &HeaderMap, raw: Option<&str>) -> Result<Response, Refusal> {
    let session = session(app, headers).await?;
    let request = parse(raw, session.services().store.now())?;
    let answer = service::stats(&session, request, NAMES.interval).await?;
    let buckets = answer
        .buckets
        .into_iter()
        .map(|b| BucketBody {
            start: b.start.map(|at| at.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            key: b.key,
            count: b.count,
        })
        .collect();
    Ok(json(StatusCode::OK, &StatsBody { total: answer.total, buckets, other_count: answer.other_count }))
}

/// Splits the stats parameters from the filter parameters and validates both.
fn parse(raw: Option<&str>, now: chrono::DateTime<chrono::Utc>) -> Result<StatsRequest> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| Error::bad_input("query", format!("the query string does not decode: {e}")))?;
    let mut q = StatsQuery::default();
    let mut rest = Vec::new();
    for (name, value) in pairs {
        match name.as_str() {
            "group_by" => q.group_by.extend(value.split(',').map(|v| v.trim().to_string())),
            "interval" => once(&mut q.interval, &name, value)?,
            "time_field" => once(&mut q.time_field, &name, value)?,
            "limit" => once(&mut q.limit, &name, number(&value, "limit")?)?,
            "order" | "cursor" => {
                return Err(Error::bad_input(&name, format!("`{name}` is not a parameter of this route")));
            }
            _ => rest.push((name, value)),
        }
    }
    let encoded = serde_urlencoded::to_string(&rest).map_err(Error::internal)?;
    let filter = EventsQuery::parse(Some(&encoded))?.into_filter(now)?;
    let group_by = q
        .group_by
        .iter()
        .enumerate()
        .map(|(i, v)| dimension(v, &format!("group_by.{i}")))
        .collect::<Result<Vec<_>>>()?;
    let interval = q.interval.as_deref().map(|v| interval(v, "interval")).transpose()?;
    let time_field = match q.time_field.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("occurred_at") => OrderField::OccurredAt,
        Some("received_at") => OrderField::ReceivedAt,
        Some(other) => {
            return Err(Error::bad_input("time_field", format!("`{other}` is not one of occurred_at, received_at")));
        }
    };
    StatsRequest::new(filter, group_by, interval, time_field, q.limit, &NAMES)
}

fn dimension(value: &str, path: &str) -> Result<StatsDimension> {
    use StatsDimension::*;
    word(
        value.trim(),
        path,
        &[
            ("action", Action),
            ("category", Category),
            ("outcome", Outcome),
            ("actor", Actor),
            ("resource_type", ResourceType),
            ("environment", Environment),
            ("source_service", SourceService),
            ("http_status", HttpStatus),
        ],
    )
}

fn interval(value: &str, path: &str) -> Result<StatsInterval> {
    use StatsInterval::*;
    word(value.trim(), path, &[("minute", Minute), ("hour", Hour), ("day", Day), ("week", Week), ("month", Month)])
}

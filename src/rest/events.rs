//! `/v1/events`: list with query parameters, record a batch, read one event.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::problem::{Problem, Refusal};
use super::query::EventsQuery;
use super::{json, reply, session};
use crate::domain::event_spec::EventSpec;
use crate::domain::ids::EventId;
use crate::domain::selection::{Detail, Joins};
use crate::error::Error;
use crate::http::AppState;
use crate::service::data_keys;
use crate::service::events::Answer;
use crate::service::policy::Operation;
use crate::service::{self, reads};

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// A page of opened events.
#[derive(Serialize, ToSchema)]
pub struct EventPage {
    /// Opened events (API.md Part 3, "Two forms"): the canonical event with
    /// each sealed personal value as plaintext, or null once erased, and its
    /// `leafHash`; in the order asked for.
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<Value>,
    /// The `cursor` of the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// What a recording stored.
#[derive(Serialize, ToSchema)]
pub struct Recorded {
    /// The opened event of every input, in input order (a duplicate shows the event stored first).
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<Value>,
    /// Events this request stored.
    pub created: usize,
    /// Inputs whose idempotency key was already used.
    pub duplicates: usize,
}

/// Lists the caller's events matching the parameters. Needs `audit.read`.
#[utoipa::path(
    get, path = "/v1/events", tag = "events", params(EventsQuery), operation_id = "listEvents",
    responses(
        (status = 200, description = "A page of events", body = EventPage),
        (status = 400, description = "A parameter is malformed", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks `audit.read`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn list(State(app): State<AppState>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    reply(&headers, list_events(&app, &headers, raw.as_deref()).await)
}

async fn list_events(app: &AppState, headers: &HeaderMap, raw: Option<&str>) -> Result<Response, Refusal> {
    let session = session(app, headers).await?;
    session.authorize(Operation::ReadEvents)?;
    let request = EventsQuery::parse(raw)?.into_request(session.services().store.now())?;
    let query = reads::EventsQuery {
        owner: reads::Owner::Tenant,
        filter: request.filter,
        order: request.order,
        page: request.page,
        detail: Detail::ALL,
        joins: Joins::default(),
    };
    let page = reads::events_page(&session, query).await?.page;
    let next_cursor =
        page.has_next_page.then(|| page.items.last().map(|row| row.event.cursor(request.order))).flatten();
    let rows: Vec<_> = page.items.into_iter().map(|row| row.event).collect();
    let data = data_keys::opened_for(&session, &rows).await?;
    Ok(json(StatusCode::OK, &EventPage { data, next_cursor }))
}

/// Records 1 to 1,000 events atomically (all or none). Needs `audit.write`.
#[utoipa::path(
    post, path = "/v1/events", tag = "events", operation_id = "recordEvents",
    request_body(content = Vec<Object>, description = "1 to 1,000 events shaped as GraphQL's `AuditEventInput`"),
    params(("Idempotency-Key" = Option<String>, Header, description = "The idempotency key of a single-event body")),
    responses(
        (status = 201, description = "Stored (or found stored, for used idempotency keys)", body = Recorded),
        (status = 400, description = "An event is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks `audit.write`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn record(State(app): State<AppState>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    reply(&headers, record_events(&app, &headers, body).await)
}

async fn record_events(
    app: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Refusal> {
    let session = session(app, headers).await?;
    session.authorize(Operation::RecordEvents)?;
    let content = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json") {
        return Err(Refusal::with_status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "events",
            "send the events as application/json",
        ));
    }
    let body = body.map_err(|rejection| {
        let status = rejection.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!("the body is larger than {} bytes", app.settings.max_body_bytes)
        } else {
            rejection.body_text()
        };
        Refusal::with_status(status, "events", message)
    })?;
    let specs = decode(&body, headers)?;
    let total = specs.len();
    // A key that may not read events learns only each one's ID and sequence.
    let answer = if session.may(Operation::ReadEvents) { Answer::Events } else { Answer::Receipts };
    let recorded = service::events::record(&session, specs, answer).await?;
    let created = recorded.created.len();
    let data = match answer {
        Answer::Events => data_keys::opened_for(&session, &recorded.events).await?,
        Answer::Receipts => recorded
            .events
            .iter()
            .map(|e| serde_json::json!({ "id": e.id.to_string(), "sequence": e.sequence.to_string() }))
            .collect(),
    };
    Ok(json(StatusCode::CREATED, &Recorded { data, created, duplicates: total - created }))
}

/// The body's events, decoded once into the written form, with the
/// `Idempotency-Key` header applied to a single event.
fn decode(body: &[u8], headers: &HeaderMap) -> Result<Vec<EventSpec>, Error> {
    if !crate::domain::nesting::within_bounds(&String::from_utf8_lossy(body), false) {
        return Err(Error::bad_input(
            "events",
            format!("nests JSON more than {} deep", crate::domain::nesting::MAX_NESTING),
        ));
    }
    if !body.trim_ascii_start().starts_with(b"[") {
        return Err(Error::bad_input("events", "the body must be a JSON array of events"));
    }
    // Numbers the parser would round are marked first, to be refused at their path.
    let marked = std::str::from_utf8(body).map(crate::domain::exact_number::mark_inexact);
    let text = marked.as_deref().map(str::as_bytes).unwrap_or(body);
    let mut events: Vec<EventSpec> = crate::domain::wire::decode_text(text, "events")?;
    let Some(key) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(events);
    };
    let key = key.to_str().map_err(|_| Error::bad_input("Idempotency-Key", "must be visible ASCII"))?.to_string();
    match events.as_mut_slice() {
        [event] => match &event.idempotency_key {
            None => event.idempotency_key = Some(key),
            Some(own) if *own == key => {}
            Some(_) => return Err(Error::bad_input("Idempotency-Key", "differs from the event's `idempotencyKey`")),
        },
        _ => {
            return Err(Error::bad_input(
                "Idempotency-Key",
                "applies to a body of exactly one event; set `idempotencyKey` on each event of a batch",
            ));
        }
    }
    Ok(events)
}

/// One event by ID. Needs `audit.read`.
#[utoipa::path(
    get, path = "/v1/events/{id}", tag = "events", operation_id = "getEvent",
    params(("id" = String, Path, description = "The event's ID (`evt_…`)")),
    responses(
        (status = 200, description = "The opened event, with its leafHash", body = Object),
        (status = 400, description = "Not an event ID", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks `audit.read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such event in the tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn one(State(app): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let outcome = async {
        let session = session(&app, &headers).await?;
        let id = EventId::parse(&id, "id")?;
        let row = reads::event(&session, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no event `{id}` in this tenant")))?;
        let mut opened = data_keys::opened_for(&session, std::slice::from_ref(&row)).await?;
        Ok(json(StatusCode::OK, &opened.pop().unwrap_or_default()))
    };
    reply(&headers, outcome.await)
}

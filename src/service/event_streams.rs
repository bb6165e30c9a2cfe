//! Creating, changing and deleting streams, each audited in the tenant in the
//! same transaction as the change.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore as _;
use serde_json::json;

use super::policy::Operation;
use super::self_audit::{Acting, self_audit};
use super::session::Session;
use super::unit_of_work::UnitOfWork;
use crate::domain::event::{NewEvent, NewResource, check};
use crate::domain::event_stream::EventStream;
use crate::domain::filter_spec::FilterSpec;
use crate::domain::ids::EventStreamId;
use crate::domain::requester::Requester;
use crate::error::{Error, Result};
use crate::store::{event_streams, ledger};
use crate::streams::{SPLUNK_HEC, WEBHOOK, destination};

/// Where a new stream delivers.
pub enum Destination {
    Webhook { url: String },
    SplunkHec { url: String, token: String, index: Option<String> },
}

/// A stream to create, as the caller sent it.
pub struct NewStream {
    pub name: String,
    /// The events it delivers.
    pub filter: FilterSpec,
    /// A query string AND-ed with the filter.
    pub query: Option<String>,
    pub destination: Destination,
    pub start_after_sequence: Option<i64>,
}

/// A change to a stream, as the caller sent it.
pub struct StreamChange {
    pub name: Option<String>,
    pub filter: Option<FilterSpec>,
    /// `Some(None)` (or a blank query) removes the query.
    pub query: Option<Option<String>>,
    pub paused: Option<bool>,
}

/// A stream's query as stored: none for a blank one, and checked now (it is
/// compiled again at each delivery).
fn stored_query(query: Option<String>, now: chrono::DateTime<chrono::Utc>) -> Result<Option<String>> {
    let query = query.filter(|q| !q.trim().is_empty());
    if let Some(q) = &query {
        super::criteria::parse(q, "input.query", now)?;
    }
    Ok(query)
}

/// A webhook signing secret: `whsec_` and the base64 of 32 random bytes.
fn signing_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// What a stream's self-audit shows of it, before and after a change: its
/// name, filter, paused state and destination host (never the URL's secrets).
fn described(stream: &EventStream) -> serde_json::Value {
    let host = url::Url::parse(&stream.url).ok().and_then(|u| u.host_str().map(str::to_string));
    json!({
        "name": stream.name,
        "filter": stream.filter,
        "query": stream.query,
        "paused": stream.paused,
        "destinationHost": host,
    })
}

fn audit(
    at: chrono::DateTime<chrono::Utc>,
    action: &str,
    requester: &Requester,
    stream: &EventStream,
    summary: String,
    metadata: serde_json::Value,
) -> NewEvent {
    self_audit(
        at,
        action,
        &Acting::Key(requester),
        NewResource {
            kind: "event_stream".into(),
            external_id: stream.id.to_string(),
            name: Some(stream.name.clone()),
        },
        summary,
        metadata,
    )
}

/// The caller's tenant's streams, oldest first.
pub async fn list(session: &Session) -> Result<Vec<EventStream>> {
    let requester = session.authorize(Operation::ManageStreams)?;
    event_streams::list(session.services().store.db(), requester.tenant).await
}

/// Creates a stream; returns it and, for a webhook, its signing secret (shown once).
pub async fn create(session: &Session, input: NewStream) -> Result<(EventStream, Option<String>)> {
    let requester = session.authorize(Operation::ManageStreams)?;
    let services = session.services();
    let name = check::text("input.name", input.name, 1, 255)?;
    let filter_json = input.filter.to_json();
    input.filter.into_filter("input.filter")?;
    let query = stored_query(input.query, services.store.now())?;
    let (kind, url, secret, index, url_path) = match input.destination {
        Destination::Webhook { url } => (WEBHOOK, url, None, None, "input.webhook.url"),
        Destination::SplunkHec { url, token, index } => {
            let token = check::text("input.splunkHec.token", token, 1, 1024)?;
            let index = index.map(|i| check::text("input.splunkHec.index", i, 1, 255)).transpose()?;
            (SPLUNK_HEC, url, Some(token), index, "input.splunkHec.url")
        }
    };
    let url = destination::parse(&url, url_path)?;
    destination::check(&url, url_path, &services.streams.destinations).await?;
    if let Some(start) = input.start_after_sequence
        && start < 0
    {
        return Err(Error::bad_input("input.startAfterSequence", "must be 0 or more"));
    }
    let signing_secret = (kind == WEBHOOK).then(signing_secret);
    let secret = secret.or_else(|| signing_secret.clone()).unwrap_or_default();

    let tenant = requester.tenant;
    let mut unit = UnitOfWork::begin(&services.store, &services.bus).await?;
    let id = EventStreamId::generate();
    let start = input.start_after_sequence;
    let after = json!({
        "name": name,
        "filter": filter_json,
        "query": query,
        "paused": false,
        "destinationHost": url.host_str(),
    });
    let event = self_audit(
        unit.now,
        "event_stream.create",
        &Acting::Key(requester),
        NewResource { kind: "event_stream".into(), external_id: id.to_string(), name: Some(name.clone()) },
        format!("Event stream `{name}` created"),
        json!({ "kind": kind, "before": null, "after": after, "startAfterSequence": start.map(|s| s.to_string()) }),
    );
    // Recorded first, so that by default the stream starts after its own creation.
    unit.record(tenant, vec![event]).await?;
    // Counted after recording, which holds the tenant's ledger: two creations
    // cannot both see room for one more.
    let max = services.streams.max_per_tenant;
    if event_streams::count(unit.txn(), tenant).await? >= max as u64 {
        return Err(Error::bad_input(
            "input",
            format!("this tenant has {max} event streams, the most the operator allows; delete one first"),
        ));
    }
    let size = ledger::head(unit.txn(), tenant).await?.size();
    let delivered_sequence = match start {
        None => size as i64,
        Some(start) if start as u64 > size => {
            return Err(Error::bad_input(
                "input.startAfterSequence",
                format!("the tenant's ledger holds {size} events; start after at most {size}"),
            ));
        }
        Some(start) => start,
    };
    let stream = event_streams::insert(
        unit.txn(),
        tenant,
        event_streams::NewStream {
            id,
            name,
            kind,
            url: url.to_string(),
            secret,
            splunk_index: index,
            filter: filter_json,
            query,
            delivered_sequence,
        },
        unit.now,
    )
    .await?;
    unit.commit().await?;
    session.pin_primary();
    Ok((stream, signing_secret))
}

fn not_found(id: EventStreamId) -> Error {
    Error::NotFound(format!("no event stream {id} in this tenant"))
}

/// Changes a stream's name, filter or pause.
pub async fn update(session: &Session, id: EventStreamId, change: StreamChange) -> Result<EventStream> {
    let requester = session.authorize(Operation::ManageStreams)?;
    let services = session.services();
    let name = change.name.map(|n| check::text("input.name", n, 1, 255)).transpose()?;
    let filter = match change.filter {
        Some(filter) => {
            let json = filter.to_json();
            filter.into_filter("input.filter")?;
            Some(json)
        }
        None => None,
    };
    let query = change.query.map(|q| stored_query(q, services.store.now())).transpose()?;
    let tenant = requester.tenant;
    let mut unit = UnitOfWork::begin(&services.store, &services.bus).await?;
    let before = event_streams::by_id(unit.txn(), tenant, id).await?.ok_or_else(|| not_found(id))?;
    let changes = event_streams::Changes { name, filter, query, paused: change.paused };
    let stream =
        event_streams::update(unit.txn(), tenant, id, changes, unit.now).await?.ok_or_else(|| not_found(id))?;
    let event = audit(
        unit.now,
        "event_stream.update",
        requester,
        &stream,
        format!("Event stream `{}` changed", stream.name),
        json!({ "before": described(&before), "after": described(&stream) }),
    );
    unit.record(tenant, vec![event]).await?;
    unit.commit().await?;
    session.pin_primary();
    Ok(stream)
}

/// Deletes a stream; its position and lease go with it.
pub async fn delete(session: &Session, id: EventStreamId) -> Result<EventStream> {
    let requester = session.authorize(Operation::ManageStreams)?;
    let services = session.services();
    let tenant = requester.tenant;
    let mut unit = UnitOfWork::begin(&services.store, &services.bus).await?;
    let stream = event_streams::by_id(unit.txn(), tenant, id).await?.ok_or_else(|| not_found(id))?;
    event_streams::delete(unit.txn(), tenant, id).await?;
    let event = audit(
        unit.now,
        "event_stream.delete",
        requester,
        &stream,
        format!("Event stream `{}` deleted", stream.name),
        json!({
            "before": described(&stream),
            "after": null,
            "deliveredSequence": stream.delivered_sequence.to_string(),
        }),
    );
    unit.record(tenant, vec![event]).await?;
    unit.commit().await?;
    session.pin_primary();
    Ok(stream)
}

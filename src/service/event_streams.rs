//! Creating, changing and deleting streams, each audited in the tenant in the
//! same transaction as the change.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use entity::event_stream as es;
use rand::RngCore as _;
use serde_json::json;

use super::self_audit::{Acting, self_audit};
use super::unit_of_work::UnitOfWork;
use crate::auth::Requester;
use crate::bus::Bus;
use crate::domain::event::{NewEvent, NewResource, check};
use crate::domain::filter_spec::FilterSpec;
use crate::domain::ids::{EventStreamId, TenantId};
use crate::domain::scope::Scope;
use crate::error::{Error, Result};
use crate::store::{Store, event_streams, ledger};
use crate::streams::{SPLUNK_HEC, StreamSettings, WEBHOOK, destination};

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
    pub destination: Destination,
    pub start_after_sequence: Option<i64>,
}

/// A change to a stream, as the caller sent it.
pub struct StreamChange {
    pub name: Option<String>,
    pub filter: Option<FilterSpec>,
    pub paused: Option<bool>,
}

/// Streams are managed with `keys.manage`, and only with an API key.
pub fn authorize(requester: &Requester) -> Result<()> {
    requester.require(Scope::KeysManage)?;
    requester.require_api_key("manage event streams")
}

/// A webhook signing secret: `whsec_` and the base64 of 32 random bytes.
fn signing_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("whsec_{}", STANDARD.encode(bytes))
}

fn audit(
    action: &str,
    requester: &Requester,
    stream: &es::Model,
    summary: String,
    metadata: serde_json::Value,
) -> NewEvent {
    self_audit(
        action,
        &Acting::Key(requester),
        NewResource {
            kind: "event_stream".into(),
            external_id: EventStreamId(stream.id).to_string(),
            name: Some(stream.name.clone()),
        },
        summary,
        metadata,
    )
}

/// Creates a stream; returns it and, for a webhook, its signing secret (shown once).
pub async fn create(
    store: &Store,
    bus: &Bus,
    settings: &StreamSettings,
    requester: &Requester,
    input: NewStream,
) -> Result<(es::Model, Option<String>)> {
    authorize(requester)?;
    let name = check::text("input.name", input.name, 1, 255)?;
    let filter_json = input.filter.to_json();
    input.filter.into_filter("input.filter")?;
    let (kind, url, secret, index, url_path) = match input.destination {
        Destination::Webhook { url } => (WEBHOOK, url, None, None, "input.webhook.url"),
        Destination::SplunkHec { url, token, index } => {
            let token = check::text("input.splunkHec.token", token, 1, 1024)?;
            let index = index.map(|i| check::text("input.splunkHec.index", i, 1, 255)).transpose()?;
            (SPLUNK_HEC, url, Some(token), index, "input.splunkHec.url")
        }
    };
    let url = destination::parse(&url, url_path)?;
    destination::check(&url, url_path, &settings.allow_hosts).await?;
    if let Some(start) = input.start_after_sequence
        && start < 0
    {
        return Err(Error::bad_input("input.startAfterSequence", "must be 0 or more"));
    }
    let signing_secret = (kind == WEBHOOK).then(signing_secret);
    let secret = secret.or_else(|| signing_secret.clone()).unwrap_or_default();

    let tenant = requester.tenant;
    let mut unit = UnitOfWork::begin(store, bus).await?;
    let id = EventStreamId::generate();
    let resource = NewResource { kind: "event_stream".into(), external_id: id.to_string(), name: Some(name.clone()) };
    let start = input.start_after_sequence;
    let event = self_audit(
        "event_stream.create",
        &Acting::Key(requester),
        resource,
        format!("Event stream `{name}` created"),
        json!({ "kind": kind, "filter": filter_json, "startAfterSequence": start.map(|s| s.to_string()) }),
    );
    // Recorded first, so that by default the stream starts after its own creation.
    unit.record(tenant, vec![event]).await?;
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
            delivered_sequence,
        },
        unit.now,
    )
    .await?;
    unit.commit().await?;
    Ok((stream, signing_secret))
}

fn not_found(id: EventStreamId) -> Error {
    Error::NotFound(format!("no event stream {id} in this tenant"))
}

/// Changes a stream's name, filter or pause.
pub async fn update(
    store: &Store,
    bus: &Bus,
    requester: &Requester,
    id: EventStreamId,
    change: StreamChange,
) -> Result<es::Model> {
    authorize(requester)?;
    let name = change.name.map(|n| check::text("input.name", n, 1, 255)).transpose()?;
    let filter = match change.filter {
        Some(filter) => {
            let json = filter.to_json();
            filter.into_filter("input.filter")?;
            Some(json)
        }
        None => None,
    };
    let mut changed = Vec::new();
    name.is_some().then(|| changed.push("name"));
    filter.is_some().then(|| changed.push("filter"));
    change.paused.is_some().then(|| changed.push("paused"));
    let tenant = requester.tenant;
    let mut unit = UnitOfWork::begin(store, bus).await?;
    event_streams::by_id(unit.txn(), tenant, id).await?.ok_or_else(|| not_found(id))?;
    let changes = event_streams::Changes { name, filter, paused: change.paused };
    let stream =
        event_streams::update(unit.txn(), tenant, id, changes, unit.now).await?.ok_or_else(|| not_found(id))?;
    let event = audit(
        "event_stream.update",
        requester,
        &stream,
        format!("Event stream `{}` changed", stream.name),
        json!({ "changed": changed, "paused": stream.paused, "filter": stream.filter }),
    );
    unit.record(tenant, vec![event]).await?;
    unit.commit().await?;
    Ok(stream)
}

/// Deletes a stream; its position and lease go with it.
pub async fn delete(store: &Store, bus: &Bus, requester: &Requester, id: EventStreamId) -> Result<es::Model> {
    authorize(requester)?;
    let tenant: TenantId = requester.tenant;
    let mut unit = UnitOfWork::begin(store, bus).await?;
    let stream = event_streams::by_id(unit.txn(), tenant, id).await?.ok_or_else(|| not_found(id))?;
    event_streams::delete(unit.txn(), tenant, id).await?;
    let event = audit(
        "event_stream.delete",
        requester,
        &stream,
        format!("Event stream `{}` deleted", stream.name),
        json!({ "kind": stream.kind, "deliveredSequence": stream.delivered_sequence.to_string() }),
    );
    unit.record(tenant, vec![event]).await?;
    unit.commit().await?;
    Ok(stream)
}

//! `EventStream`, its inputs and payloads, and the stream mutations.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};

use super::context::ContextExt;
use super::filter_input::AuditEventFilter;
use super::scalars::{BigInt, DateTime, Json};
use crate::domain::event_stream::EventStream as StoredStream;
use crate::domain::ids::EventStreamId;
use crate::error::{Error, Result};
use crate::service::event_streams::{self as manage, Destination, NewStream, StreamChange};

/// Whether a stream is delivering.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum EventStreamState {
    /// Delivering (or caught up).
    Active,
    /// Paused by its owner: nothing is delivered until it is resumed.
    Paused,
    /// The destination failed; delivery is retried with backoff.
    Failing,
}

/// A destination receiving the tenant's matching events in sequence order, at
/// least once. Its secret or token is never shown again after creation.
#[derive(Clone)]
pub struct EventStream(pub StoredStream);

/// A destination receiving the tenant's matching events in sequence order, at
/// least once. Its secret or token is never shown again after creation.
#[Object]
impl EventStream {
    /// The stream's global ID (`str_…`).
    pub async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// What the stream is for.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// `webhook` or `splunk_hec`.
    async fn kind(&self) -> &str {
        &self.0.kind
    }

    /// Where events are POSTed, with user information and query values shown
    /// as `***` (`https://***@siem.example/hook?token=***`).
    async fn url(&self) -> String {
        self.0.display_url()
    }

    /// The events it delivers, as an `AuditEventFilter` in JSON (`{}`: all).
    async fn filter(&self) -> Json {
        async_graphql::Json(self.0.filter.clone())
    }

    /// The query string AND-ed with `filter`, if any.
    async fn query(&self) -> Option<&str> {
        self.0.query.as_deref()
    }

    /// `PAUSED` if paused, `FAILING` after a failed attempt until one succeeds, else `ACTIVE`.
    async fn state(&self) -> EventStreamState {
        if self.0.paused {
            EventStreamState::Paused
        } else if self.0.failing_since.is_some() {
            EventStreamState::Failing
        } else {
            EventStreamState::Active
        }
    }

    /// The last sequence examined and, where it matched, delivered.
    async fn delivered_sequence(&self) -> BigInt {
        BigInt(self.0.delivered_sequence)
    }

    /// Events recorded after `deliveredSequence`: the ledger's size minus it.
    async fn lag(&self, ctx: &Context<'_>) -> async_graphql::Result<BigInt> {
        let size = crate::service::ledger::reads::size(ctx.session()).await? as i64;
        Ok(BigInt((size - self.0.delivered_sequence).max(0)))
    }

    /// When the destination last took a batch.
    async fn last_delivered_at(&self) -> Option<DateTime> {
        self.0.last_delivered_at.map(Into::into)
    }

    /// Why the last attempt failed; null once one succeeds.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }

    /// Since when the destination fails; null while it does not.
    async fn failing_since(&self) -> Option<DateTime> {
        self.0.failing_since.map(Into::into)
    }

    /// When it was created.
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
}

/// A Standard Webhooks destination.
#[derive(InputObject)]
pub struct WebhookInput {
    /// An http(s) URL.
    pub url: String,
}

/// A Splunk HTTP Event Collector.
#[derive(InputObject)]
pub struct SplunkHecInput {
    /// The collector's event endpoint, e.g. `https://splunk:8088/services/collector/event`.
    pub url: String,
    /// The HEC token; never shown again.
    pub token: String,
    /// The index to write to (default: the token's).
    pub index: Option<String>,
}

/// A stream to create: exactly one of `webhook` and `splunkHec`.
#[derive(InputObject)]
pub struct CreateEventStreamInput {
    /// What the stream is for (1–255 characters).
    pub name: String,
    /// The events to deliver (default: all of the tenant's).
    pub filter: Option<AuditEventFilter>,
    /// A query string AND-ed with `filter`, compiled at each delivery.
    pub query: Option<String>,
    /// Deliver to a webhook.
    pub webhook: Option<WebhookInput>,
    /// Deliver to a Splunk HTTP Event Collector.
    pub splunk_hec: Option<SplunkHecInput>,
    /// Deliver events after this sequence (default: the current size, new events only; `"0"` replays all).
    pub start_after_sequence: Option<BigInt>,
}

/// A change to a stream; unset fields stay as they are.
#[derive(InputObject)]
pub struct UpdateEventStreamInput {
    /// A new name.
    pub name: Option<String>,
    /// A new filter (events not yet delivered are matched against it).
    pub filter: Option<AuditEventFilter>,
    /// A new query string (null or blank: none).
    pub query: async_graphql::MaybeUndefined<String>,
    /// Pause or resume delivery.
    pub paused: Option<bool>,
}

/// The created stream and, for a webhook, its signing secret.
#[derive(SimpleObject)]
pub struct CreateEventStreamPayload {
    /// The stream.
    pub stream: EventStream,
    /// The webhook signing secret (`whsec_…`): verify every delivery with it.
    /// Shown only now; null for Splunk.
    pub signing_secret: Option<String>,
}

/// The deleted stream.
#[derive(SimpleObject)]
pub struct DeleteEventStreamPayload {
    /// The stream as it was.
    pub stream: EventStream,
}

/// The tenant's streams, oldest first.
pub async fn list(ctx: &Context<'_>) -> Result<Vec<EventStream>> {
    Ok(manage::list(ctx.session()).await?.into_iter().map(EventStream).collect())
}

pub async fn create(ctx: &Context<'_>, input: CreateEventStreamInput) -> Result<CreateEventStreamPayload> {
    let destination = match (input.webhook, input.splunk_hec) {
        (Some(webhook), None) => Destination::Webhook { url: webhook.url },
        (None, Some(hec)) => Destination::SplunkHec { url: hec.url, token: hec.token, index: hec.index },
        (Some(_), Some(_)) => {
            return Err(Error::bad_input("input.splunkHec", "give exactly one of `webhook` and `splunkHec`"));
        }
        (None, None) => return Err(Error::bad_input("input.webhook", "give exactly one of `webhook` and `splunkHec`")),
    };
    let new = NewStream {
        name: input.name,
        filter: input.filter.map(Into::into).unwrap_or_default(),
        query: input.query,
        destination,
        start_after_sequence: input.start_after_sequence.map(|b| b.0),
    };
    let (stream, signing_secret) = manage::create(ctx.session(), new).await?;
    Ok(CreateEventStreamPayload { stream: EventStream(stream), signing_secret })
}

pub async fn update(ctx: &Context<'_>, id: ID, input: UpdateEventStreamInput) -> Result<EventStream> {
    let id = EventStreamId::parse(&id, "id")?;
    let query = match input.query {
        async_graphql::MaybeUndefined::Undefined => None,
        async_graphql::MaybeUndefined::Null => Some(None),
        async_graphql::MaybeUndefined::Value(q) => Some(Some(q)),
    };
    let change = StreamChange { name: input.name, filter: input.filter.map(Into::into), query, paused: input.paused };
    Ok(EventStream(manage::update(ctx.session(), id, change).await?))
}

pub async fn delete(ctx: &Context<'_>, id: ID) -> Result<DeleteEventStreamPayload> {
    let id = EventStreamId::parse(&id, "id")?;
    Ok(DeleteEventStreamPayload { stream: EventStream(manage::delete(ctx.session(), id).await?) })
}

//! Recording events: the one path both doors (the GraphQL mutation and
//! `POST /v1/events`) take from validated inputs to stored, announced events.

use super::policy::Operation;
use super::recording::Recorded;
use super::session::Session;
use super::unit_of_work::UnitOfWork;
use crate::bus::Bus;
use crate::domain::event::NewEvent;
use crate::domain::event_spec::{EventSpec, validate_batch};
use crate::domain::ids::TenantId;
use crate::error::{Error, Result};
use crate::store::Store;

/// What a recording's answer shows of the stored events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Only each event's ID and sequence: all a key without `audit.read` may
    /// learn, even of an idempotent replay of another producer's key.
    Receipts,
    /// The stored events: needs `audit.read`.
    Events,
}

/// Validates a batch of 1 to 1,000 events (at `events.0`, `events.1`, …) and
/// stores it atomically for the caller, announces it on the bus and counts
/// it. Asking for [`Answer::Events`] without `audit.read` is refused before
/// anything is stored.
pub async fn record(session: &Session, specs: Vec<EventSpec>, answer: Answer) -> Result<Recorded> {
    let requester = session.authorize(Operation::RecordEvents)?;
    let batch = validate_batch(specs, "events", session.services().store.now())?;
    if answer == Answer::Events {
        session.authorize(Operation::ReadEvents).map_err(|_| {
            Error::Forbidden(
                "this API key lacks the `audit.read` scope: a recording's answer may select only `id`, \
                 `sequence` and `__typename` of the events"
                    .into(),
            )
        })?;
    }
    let s = session.services();
    let mut recorded = store_batch(&s.store, &s.bus, requester.tenant, batch).await?;
    s.metrics.events_recorded(recorded.created.len() as u64);
    // What this session wrote may not have reached a replica yet.
    session.pin_primary();
    if answer == Answer::Receipts {
        recorded.events = recorded.events.into_iter().map(|e| e.receipt()).collect();
    }
    Ok(recorded)
}

/// Stores a validated batch in one transaction (all of it or none) and
/// announces it once committed.
pub async fn store_batch(store: &Store, bus: &Bus, tenant: TenantId, batch: Vec<NewEvent>) -> Result<Recorded> {
    store_batch_at(UnitOfWork::begin(store, bus).await?, tenant, batch).await
}

/// Stores a batch in the unit of work given, and commits it.
pub async fn store_batch_at(mut unit: UnitOfWork<'_>, tenant: TenantId, batch: Vec<NewEvent>) -> Result<Recorded> {
    let recorded = unit.record(tenant, batch).await?;
    unit.commit().await?;
    Ok(recorded)
}

//! Delivering event streams, as the background deliverer asks for it: which
//! streams this replica may deliver (one replica at a time holds a stream's
//! lease), each stream's next batch along the log, and the saved position or
//! failure after an attempt. Every stream delivers its filter's events and
//! every self-audit event of its tenant, whatever its filter, so that no
//! stream can be muted, redirected or deleted without its receiver seeing it.

use std::time::Duration;

use crate::domain::event_stream::EventStream;
use crate::domain::filter_spec::FilterSpec;
use crate::domain::ids::{EventStreamId, TenantId};
use crate::domain::stored_event::StoredEvent;
use crate::error::Result;
use crate::store::{Store, event_streams, ledger};

use super::follow::{self, Batch, Follow};

/// Events sent in one request at most.
pub const BATCH: u64 = 100;

/// A stream's next delivery.
pub struct Pending {
    pub stream: EventStream,
    pub batch: Batch,
    /// The tree size the batch was read up to.
    pub size: u64,
}

/// This replica's part in delivering streams.
pub struct Deliveries {
    store: Store,
    /// Names this process in the leases it holds.
    holder: String,
    /// How long a lease lasts without renewal: longer than one delivery
    /// request, or another replica could take a stream with a batch in flight.
    lease: Duration,
}

impl Deliveries {
    pub fn new(store: Store, lease: Duration) -> Deliveries {
        let holder = format!("{}-{}", std::process::id(), uuid::Uuid::now_v7().simple());
        Deliveries { store, holder, lease }
    }

    /// Streams of every tenant this replica could deliver now: not paused,
    /// and whose lease is free, expired or its own.
    pub async fn deliverable(&self) -> Result<Vec<EventStream>> {
        event_streams::deliverable(self.store.db(), &self.holder, self.store.now()).await
    }

    /// Takes or renews a stream's lease; whether this replica holds it.
    pub async fn claim(&self, id: EventStreamId) -> Result<bool> {
        let now = self.store.now();
        let until = now + chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::seconds(10));
        let _gate = self.store.write_gate().await;
        event_streams::claim(self.store.db(), id, &self.holder, now, until).await
    }

    /// Gives up every lease this replica holds, so that others need not wait
    /// for them to expire; how many. Only once no batch is in flight.
    pub async fn release_all(&self) -> Result<u64> {
        let _gate = self.store.write_gate().await;
        event_streams::release_all(self.store.db(), &self.holder).await
    }

    /// A stream's next batch of at most [`BATCH`] events after its saved
    /// position, up to the tenant's current tree size; `None` when the stream
    /// is gone, paused or caught up. Read after the lease was claimed: another
    /// replica may have moved it, and it may have been changed.
    pub async fn next(&self, tenant: TenantId, id: EventStreamId) -> Result<Option<Pending>> {
        let db = self.store.db();
        let Some(stream) = event_streams::by_id(db, tenant, id).await? else {
            return Ok(None);
        };
        if stream.paused {
            return Ok(None);
        }
        let size = ledger::head(db, tenant).await?.size();
        let written = FilterSpec::from_json(stream.filter.clone(), "filter")?;
        let filter = super::criteria::combine(Some(written), stream.query.as_deref(), self.store.now())?;
        let from = stream.delivered_sequence.max(0) as u64;
        let mut follow = Follow::new(tenant, filter.or(follow::self_audit()), from, BATCH);
        Ok(follow.next(db, size).await?.map(|batch| Pending { stream, batch, size }))
    }

    /// Saves a stream's position after the destination took a batch (or
    /// nothing in it matched), clearing any failure.
    pub async fn delivered(&self, id: EventStreamId, through: u64, sent: bool) -> Result<()> {
        let _gate = self.store.write_gate().await;
        event_streams::advance(self.store.db(), id, &self.holder, through, sent, self.store.now()).await?;
        Ok(())
    }

    /// The opened form of a batch's events, as destinations receive them.
    pub async fn opened(&self, rows: &[StoredEvent]) -> Result<Vec<serde_json::Value>> {
        super::data_keys::open_events(self.store.db(), self.store.master_key()?, rows).await
    }

    /// The current instant by the server's clock (a webhook's timestamp).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.store.now()
    }

    /// Records a failed attempt; the stream is failing from its first one.
    pub async fn failed(&self, id: EventStreamId, message: &str) -> Result<()> {
        let _gate = self.store.write_gate().await;
        event_streams::failed(self.store.db(), id, &self.holder, message, self.store.now()).await
    }
}

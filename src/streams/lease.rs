//! The delivery lease: one replica at a time delivers a stream. A replica
//! takes a stream whose lease is free or expired and renews it before every
//! batch; if it dies, the lease runs out and another replica resumes after
//! the last saved sequence. A replica shutting down gives its leases up, so
//! another one takes over at once.

use std::time::Duration;

use crate::domain::ids::EventStreamId;
use crate::error::Result;
use crate::store::{Store, event_streams};

/// This replica's hold on streams.
#[derive(Clone)]
pub struct Leases {
    store: Store,
    /// Names this process in `lease_holder`.
    holder: String,
    ttl: Duration,
}

impl Leases {
    /// `ttl` must outlast one delivery request, or another replica could take
    /// the stream while a batch is still in flight.
    pub fn new(store: Store, ttl: Duration) -> Self {
        Self { store, holder: format!("{}-{}", std::process::id(), uuid::Uuid::now_v7().simple()), ttl }
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Takes or renews the lease; whether this replica holds it.
    pub async fn claim(&self, id: EventStreamId) -> Result<bool> {
        let now = crate::domain::now();
        let until = now + chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::seconds(10));
        let _gate = self.store.write_gate().await;
        event_streams::claim(self.store.db(), id, &self.holder, now, until).await
    }

    /// Gives up every lease this replica holds, so other replicas need not
    /// wait for them to expire; how many. Only once no batch is in flight.
    pub async fn release_all(&self) -> Result<u64> {
        let _gate = self.store.write_gate().await;
        event_streams::release_all(self.store.db(), &self.holder).await
    }
}

//! Recording events: the one path both doors (the GraphQL mutation and
//! `POST /v1/events`) take from validated inputs to stored, announced events.

use super::Services;
use super::unit_of_work::UnitOfWork;
use crate::bus::Bus;
use crate::domain::event::{MAX_BATCH, NewEvent};
use crate::domain::ids::TenantId;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::recording::Recorded;

/// `BAD_USER_INPUT` at `path` unless a batch holds 1 to 1,000 events.
pub fn check_batch_size(len: usize, path: &str) -> Result<()> {
    if len == 0 || len > MAX_BATCH {
        return Err(Error::bad_input(path, format!("send 1 to {MAX_BATCH} events (got {len})")));
    }
    Ok(())
}

/// Stores a validated batch atomically, announces it on the bus and counts it.
pub async fn record(services: &Services, tenant: TenantId, batch: Vec<NewEvent>) -> Result<Recorded> {
    let recorded = store_batch(&services.store, &services.bus, tenant, batch).await?;
    services.metrics.events_recorded(recorded.created.len() as u64);
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

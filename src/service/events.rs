//! Recording events: the one path both doors (the GraphQL mutation and
//! `POST /v1/events`) take from validated inputs to stored, announced events.

use super::Services;
use super::unit_of_work::UnitOfWork;
use crate::bus::Bus;
use crate::domain::event::NewEvent;
use crate::domain::ids::TenantId;
use crate::error::Result;
use crate::store::Store;
use crate::store::recording::Recorded;

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

//! The write unit of work every write goes through: wait for the right to
//! write (SQLite has one writer), open a transaction, record what the write
//! owes the log, commit, then announce the recorded events on the bus while
//! still holding the right to write, so that in-process announcements follow
//! commit order.

use chrono::{DateTime, Utc};
use sea_orm::DatabaseTransaction;
use tokio::sync::MutexGuard;

use super::recording::{self, Recorded};
use crate::bus::Bus;
use crate::domain::event::NewEvent;
use crate::domain::ids::{EventId, TenantId};
use crate::error::Result;
use crate::store::Store;

pub struct UnitOfWork<'a> {
    _gate: Option<MutexGuard<'a, ()>>,
    txn: DatabaseTransaction,
    store: &'a Store,
    bus: &'a Bus,
    /// The instant every row of this write is stamped with.
    pub now: DateTime<Utc>,
    /// Events recorded so far, to announce after the commit.
    recorded: Vec<(TenantId, Vec<EventId>)>,
}

impl<'a> UnitOfWork<'a> {
    pub async fn begin(store: &'a Store, bus: &'a Bus) -> Result<Self> {
        let (gate, txn) = store.begin_write().await?;
        Ok(UnitOfWork { _gate: gate, txn, store, bus, now: store.now(), recorded: Vec::new() })
    }

    /// As [`UnitOfWork::begin`], with every row stamped as received at `at`
    /// instead of now: how `seed --backdate` loads a history. No door offers it.
    pub async fn begin_at(store: &'a Store, bus: &'a Bus, at: DateTime<Utc>) -> Result<Self> {
        let mut unit = Self::begin(store, bus).await?;
        unit.now = at;
        Ok(unit)
    }

    /// The transaction, for the store functions of the write.
    pub fn txn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Records events in this write's transaction.
    pub async fn record(&mut self, tenant: TenantId, batch: Vec<NewEvent>) -> Result<Recorded> {
        let recorded = recording::record_in(&self.txn, self.store.master_key()?, tenant, batch, self.now).await?;
        self.recorded.push((tenant, recorded.created.clone()));
        Ok(recorded)
    }

    /// Commits, then announces what was recorded.
    pub async fn commit(self) -> Result<()> {
        self.txn.commit().await?;
        for (tenant, created) in &self.recorded {
            self.bus.publish(*tenant, created);
        }
        Ok(())
    }
}

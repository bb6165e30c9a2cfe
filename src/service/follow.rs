//! Following a tenant's log by sequence: the events matching a filter, in
//! sequence order, in batches, each batch saying how far the log was examined.
//! Export, event streams and alert rules all read the log through here.

use sea_orm::ConnectionTrait;

use crate::domain::filter::{Condition, Filter, StrField, StrTest};
use crate::domain::ids::TenantId;
use crate::domain::stored_event::StoredEvent;
use crate::error::Result;
use crate::store::events;

/// One step forward along the log.
pub struct Batch {
    /// The matching events, in sequence order.
    pub events: Vec<StoredEvent>,
    /// Every sequence up to this one was examined: the position to resume after.
    pub through: u64,
}

/// A reader's position in one tenant's log, and what it looks for.
pub struct Follow {
    tenant: TenantId,
    filter: Filter,
    after: u64,
    batch: u64,
}

impl Follow {
    /// Follows the events matching `filter` after sequence `after`, at most
    /// `batch` a step.
    pub fn new(tenant: TenantId, filter: Filter, after: u64, batch: u64) -> Follow {
        Follow { tenant, filter, after, batch: batch.max(1) }
    }

    /// The position: every sequence up to it was examined.
    pub fn position(&self) -> u64 {
        self.after
    }

    /// The next batch of matching events with a sequence up to `up_to` (the
    /// tree size the reader goes to), read through `db`; `None` once the
    /// position reached it. A full batch ends at its last event; a short one
    /// at `up_to`, since nothing else matches up to there.
    pub async fn next(&mut self, db: &impl ConnectionTrait, up_to: u64) -> Result<Option<Batch>> {
        if self.after >= up_to {
            return Ok(None);
        }
        let events = events::matching_by_sequence(db, self.tenant, &self.filter, self.after, up_to, self.batch).await?;
        let through = match events.last() {
            Some(last) if events.len() as u64 == self.batch => last.sequence as u64,
            _ => up_to,
        };
        self.after = through;
        Ok(Some(Batch { events, through }))
    }
}

/// The events the server recorded about itself (their `sourceService` is the
/// reserved one, which no producer may use).
pub fn self_audit() -> Filter {
    Filter::Cond(Condition::Str(
        StrField::SourceService,
        StrTest::Eq(crate::domain::event::SELF_AUDIT_SOURCE.to_string()),
    ))
}

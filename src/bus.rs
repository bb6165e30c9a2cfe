//! The event bus: after a batch commits, its event IDs are announced here and
//! subscriptions fetch the events they match. In-process broadcast; never
//! announced for a rolled-back batch, since announcing happens after commit.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::domain::ids::{EventId, TenantId};

/// Events committed together in one tenant, in recording order.
#[derive(Clone, Debug)]
pub struct Announcement {
    pub tenant: TenantId,
    pub events: Vec<EventId>,
}

#[derive(Clone)]
pub struct Bus {
    tx: broadcast::Sender<Arc<Announcement>>,
}

impl Bus {
    /// `capacity` announcements are buffered per subscriber; one that falls
    /// further behind is told so and closed.
    pub fn new(capacity: usize) -> Self {
        Self {
            tx: broadcast::channel(capacity.max(1)).0,
        }
    }

    /// Announces committed events (no-op without subscribers or events).
    pub fn publish(&self, tenant: TenantId, events: &[EventId]) {
        if !events.is_empty() {
            let _ = self.tx.send(Arc::new(Announcement {
                tenant,
                events: events.to_vec(),
            }));
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Announcement>> {
        self.tx.subscribe()
    }

    pub fn subscriber_count(&self) -> usize {
        self.tx.receiver_count()
    }
}

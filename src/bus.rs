//! The event bus: committed events are announced here and subscriptions fetch
//! the ones they match. Never announced for a rolled-back batch.
//!
//! A subscription starts at a *fence*: a marker it sends through the same
//! ordered channel as the announcements. What arrives before its fence was
//! committed before it started and is skipped; everything after is delivered.
//!
//! - SQLite (one process): callers publish after commit to an in-process broadcast.
//! - PostgreSQL (any number of replicas): the recording transaction itself
//!   sends `NOTIFY auditgraph_events` with the event IDs (PostgreSQL delivers it
//!   only on commit, in commit order); every replica `LISTEN`s and rebroadcasts
//!   to its own subscribers. Payloads carry IDs only, in chunks well under
//!   PostgreSQL's 8,000-byte limit.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::ConnectionTrait;
use sea_orm::sqlx::postgres::PgListener;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::domain::ids::{EventId, TenantId};
use crate::store::Store;

/// The PostgreSQL channel events are announced on.
pub const CHANNEL: &str = "auditgraph_events";
/// Event IDs per notification: 33 bytes each, so about 6.6 KB at most.
pub const IDS_PER_NOTIFICATION: usize = 200;

/// Events committed together in one tenant, in recording order.
#[derive(Clone, Debug, PartialEq)]
pub struct Announcement {
    pub tenant: TenantId,
    pub events: Vec<EventId>,
}

impl Announcement {
    /// `<tenant>:<event>,<event>,…` with UUIDs as 32 hex digits.
    pub fn encode(tenant: TenantId, events: &[EventId]) -> String {
        let ids: Vec<String> = events.iter().map(|e| e.0.simple().to_string()).collect();
        format!("{}:{}", tenant.0.simple(), ids.join(","))
    }

    pub fn decode(payload: &str) -> Option<Announcement> {
        let (tenant, ids) = payload.split_once(':')?;
        let events = ids.split(',').map(|id| Uuid::try_parse(id).ok().map(EventId)).collect::<Option<Vec<_>>>()?;
        Some(Announcement { tenant: TenantId(Uuid::try_parse(tenant).ok()?), events })
    }
}

/// What travels on the bus.
#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    Events(Announcement),
    /// A subscription's start.
    Fence(Uuid),
}

impl Notice {
    pub fn encode(&self) -> String {
        match self {
            Notice::Events(a) => Announcement::encode(a.tenant, &a.events),
            Notice::Fence(token) => format!("fence:{}", token.simple()),
        }
    }

    pub fn decode(payload: &str) -> Option<Notice> {
        match payload.strip_prefix("fence:") {
            Some(token) => Uuid::try_parse(token).ok().map(Notice::Fence),
            None => Announcement::decode(payload).map(Notice::Events),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Publishers broadcast directly.
    InProcess,
    /// Announcements arrive through `LISTEN`; `publish` has nothing to do.
    Postgres,
}

#[derive(Clone)]
pub struct Bus {
    tx: broadcast::Sender<Arc<Notice>>,
    mode: Mode,
}

impl Bus {
    /// An in-process bus. `capacity` announcements are buffered per subscriber;
    /// one that falls further behind is told so and closed.
    pub fn new(capacity: usize) -> Self {
        Self { tx: broadcast::channel(capacity.max(1)).0, mode: Mode::InProcess }
    }

    /// A bus fed by `LISTEN` on PostgreSQL at `url`; listening has begun when this returns.
    pub async fn listen_postgres(url: &str, capacity: usize) -> Result<Self, sea_orm::sqlx::Error> {
        let mut listener = PgListener::connect(url).await?;
        listener.listen(CHANNEL).await?;
        let bus = Self { tx: broadcast::channel(capacity.max(1)).0, mode: Mode::Postgres };
        // Weak, so the task ends once the bus is gone (at the next notification).
        let weak = bus.tx.downgrade();
        tokio::spawn(async move {
            loop {
                match listener.try_recv().await {
                    Ok(Some(notification)) => match Notice::decode(notification.payload()) {
                        Some(notice) => {
                            let Some(tx) = weak.upgrade() else { break };
                            let _ = tx.send(Arc::new(notice));
                        }
                        None => {
                            tracing::warn!(payload = notification.payload(), "ignoring a malformed event announcement")
                        }
                    },
                    // Reconnects on the next call; notifications sent meanwhile are lost.
                    Ok(None) => tracing::warn!("event listener lost its connection; reconnecting"),
                    Err(err) => {
                        tracing::warn!(error = %err, "event listener cannot reach PostgreSQL; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(bus)
    }

    /// Announces committed events in process (PostgreSQL announces them itself).
    pub fn publish(&self, tenant: TenantId, events: &[EventId]) {
        if self.mode == Mode::InProcess && !events.is_empty() {
            let _ = self.tx.send(Arc::new(Notice::Events(Announcement { tenant, events: events.to_vec() })));
        }
    }

    /// Starts a subscription: events committed after this returns are delivered.
    /// On PostgreSQL the fence is a `NOTIFY` of its own, ordered with the commits.
    pub async fn subscribe(&self, store: &Store) -> crate::error::Result<Subscription> {
        let rx = self.tx.subscribe();
        let fence = Uuid::new_v4();
        match self.mode {
            Mode::Postgres => {
                store
                    .db()
                    .execute_raw(sea_orm::Statement::from_sql_and_values(
                        sea_orm::DbBackend::Postgres,
                        "SELECT pg_notify($1, $2)",
                        [CHANNEL.into(), Notice::Fence(fence).encode().into()],
                    ))
                    .await?;
            }
            // In process, commits announce themselves while they hold the write
            // gate; holding it here too orders the fence with them.
            Mode::InProcess => {
                let _gate = store.write_gate().await;
                let _ = self.tx.send(Arc::new(Notice::Fence(fence)));
            }
        }
        Ok(Subscription { rx, fence: Some(fence) })
    }

    /// Subscriptions currently listening in this process.
    pub fn subscriber_count(&self) -> usize {
        self.tx.receiver_count()
    }
}

/// One subscriber's view of the bus.
pub struct Subscription {
    rx: broadcast::Receiver<Arc<Notice>>,
    /// Until it passes, announcements predate the subscription.
    fence: Option<Uuid>,
}

/// The subscriber fell behind by this many notices and was cut off.
pub struct Lagged(pub u64);

impl Subscription {
    /// The next announcement since the subscription started; `None` when the bus closed.
    pub async fn next(&mut self) -> Result<Option<Arc<Notice>>, Lagged> {
        loop {
            let notice = match self.rx.recv().await {
                Ok(notice) => notice,
                Err(broadcast::error::RecvError::Closed) => return Ok(None),
                Err(broadcast::error::RecvError::Lagged(n)) => return Err(Lagged(n)),
            };
            match (&*notice, self.fence) {
                (Notice::Fence(token), Some(fence)) if *token == fence => self.fence = None,
                (Notice::Events(_), None) => return Ok(Some(notice)),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_round_trip_within_the_payload_limit() {
        let a = Announcement {
            tenant: TenantId::generate(),
            events: (0..IDS_PER_NOTIFICATION).map(|_| EventId::generate()).collect(),
        };
        let text = Announcement::encode(a.tenant, &a.events);
        assert!(text.len() < 8_000);
        assert_eq!(Announcement::decode(&text), Some(a));
        assert_eq!(Announcement::decode("nonsense"), None);
        assert_eq!(Announcement::decode("00000000000000000000000000000000:xyz"), None);
        let fence = Notice::Fence(Uuid::new_v4());
        assert_eq!(Notice::decode(&fence.encode()), Some(fence));
    }
}

//! The event bus: committed events are announced here and subscriptions fetch
//! the ones they match. Never announced for a rolled-back batch.
//!
//! - SQLite (one process): the recording request publishes after commit, while
//!   it still holds the write gate, to an in-process broadcast.
//! - PostgreSQL (any number of replicas): the recording transaction itself
//!   sends `NOTIFY auditgraph_events` with the event IDs (PostgreSQL delivers it
//!   only on commit, in commit order); every replica `LISTEN`s and rebroadcasts
//!   to its own subscribers. Payloads carry IDs only, in chunks well under
//!   PostgreSQL's 8,000-byte limit.
//!
//! Every broadcast carries a sequence number. A subscription starts at a
//! *fence*: on PostgreSQL a `NOTIFY` of its own, ordered with the commits, whose
//! arrival tells the subscription the last sequence number committed before it
//! started; in process, the current number read under the write gate. What is
//! numbered at or below it is skipped, everything after delivered. Fences never
//! enter subscribers' queues.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::ConnectionTrait;
use sea_orm::sqlx::postgres::PgListener;
use tokio::sync::{broadcast, oneshot};
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

/// What travels on the PostgreSQL channel.
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

/// What subscribers receive, numbered in the order it happened.
#[derive(Clone, Debug, PartialEq)]
pub enum Broadcast {
    Events(Announcement),
    /// The listener lost PostgreSQL: announcements may have been missed.
    Interrupted,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Publishers broadcast directly.
    InProcess,
    /// Announcements arrive through `LISTEN`; `publish` has nothing to do.
    Postgres,
}

/// A bus that does not keep itself alive (held by its listener task).
struct WeakBus {
    tx: broadcast::WeakSender<Arc<(u64, Broadcast)>>,
    seq: std::sync::Weak<AtomicU64>,
    fences: std::sync::Weak<Mutex<HashMap<Uuid, oneshot::Sender<u64>>>>,
    mode: Mode,
}

impl WeakBus {
    fn upgrade(&self) -> Option<Bus> {
        Some(Bus { tx: self.tx.upgrade()?, seq: self.seq.upgrade()?, fences: self.fences.upgrade()?, mode: self.mode })
    }
}

#[derive(Clone)]
pub struct Bus {
    tx: broadcast::Sender<Arc<(u64, Broadcast)>>,
    /// The number of the last broadcast.
    seq: Arc<AtomicU64>,
    /// Subscriptions waiting for their fence, by token.
    fences: Arc<Mutex<HashMap<Uuid, oneshot::Sender<u64>>>>,
    mode: Mode,
}

impl Bus {
    fn with_mode(capacity: usize, mode: Mode) -> Self {
        Self { tx: broadcast::channel(capacity.max(1)).0, seq: Arc::default(), fences: Arc::default(), mode }
    }

    fn downgrade(&self) -> WeakBus {
        WeakBus {
            tx: self.tx.downgrade(),
            seq: Arc::downgrade(&self.seq),
            fences: Arc::downgrade(&self.fences),
            mode: self.mode,
        }
    }

    /// Numbers and sends a broadcast (from one task at a time: the listener, or
    /// a writer holding the write gate).
    fn send(&self, item: Broadcast) {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let _ = self.tx.send(Arc::new((seq, item)));
    }
}

impl Bus {
    /// An in-process bus. `capacity` announcements are buffered per subscriber;
    /// one that falls further behind is told so and closed.
    pub fn new(capacity: usize) -> Self {
        Self::with_mode(capacity, Mode::InProcess)
    }

    /// A bus fed by `LISTEN` on PostgreSQL at `url`; listening has begun when this returns.
    pub async fn listen_postgres(url: &str, capacity: usize) -> Result<Self, sea_orm::sqlx::Error> {
        let mut listener = PgListener::connect(url).await?;
        listener.listen(CHANNEL).await?;
        let bus = Self::with_mode(capacity, Mode::Postgres);
        // The task ends once the bus is gone (at the next notification).
        let relay = bus.downgrade();
        tokio::spawn(async move {
            let mut connected = true;
            loop {
                let received = listener.try_recv().await;
                let Some(bus) = relay.upgrade() else { break };
                match received {
                    Ok(Some(notification)) => {
                        connected = true;
                        match Notice::decode(notification.payload()) {
                            Some(Notice::Events(a)) => bus.send(Broadcast::Events(a)),
                            Some(Notice::Fence(token)) => {
                                if let Some(waiter) = bus.fences.lock().unwrap().remove(&token) {
                                    let _ = waiter.send(bus.seq.load(Ordering::SeqCst));
                                }
                            }
                            None => {
                                tracing::warn!(payload = notification.payload(), "ignoring a malformed announcement")
                            }
                        }
                    }
                    // Notifications sent while disconnected are lost: say so,
                    // once, to every subscriber. It reconnects on the next call.
                    Ok(None) | Err(_) => {
                        if connected {
                            tracing::warn!("event listener lost PostgreSQL; subscribers are told and it reconnects");
                            bus.send(Broadcast::Interrupted);
                            connected = false;
                        }
                        if received.is_err() {
                            tokio::time::sleep(Duration::from_millis(250)).await;
                        }
                    }
                }
            }
        });
        Ok(bus)
    }

    /// Announces committed events in process (PostgreSQL announces them itself).
    pub fn publish(&self, tenant: TenantId, events: &[EventId]) {
        if self.mode == Mode::InProcess && !events.is_empty() {
            self.send(Broadcast::Events(Announcement { tenant, events: events.to_vec() }));
        }
    }

    /// Starts a subscription: events committed after this returns are delivered.
    pub async fn subscribe(&self, store: &Store) -> crate::error::Result<Subscription> {
        let rx = self.tx.subscribe();
        let after = match self.mode {
            Mode::Postgres => {
                let token = Uuid::new_v4();
                let (tx, arrived) = oneshot::channel();
                self.fences.lock().unwrap().insert(token, tx);
                let sent = store
                    .db()
                    .execute_raw(sea_orm::Statement::from_sql_and_values(
                        sea_orm::DbBackend::Postgres,
                        "SELECT pg_notify($1, $2)",
                        [CHANNEL.into(), Notice::Fence(token).encode().into()],
                    ))
                    .await;
                let fenced = match sent {
                    Ok(_) => tokio::time::timeout(Duration::from_secs(10), arrived).await.ok().and_then(Result::ok),
                    Err(err) => {
                        self.fences.lock().unwrap().remove(&token);
                        return Err(err.into());
                    }
                };
                self.fences.lock().unwrap().remove(&token);
                fenced.ok_or_else(|| crate::error::Error::internal("the subscription's fence never came back"))?
            }
            // Publishers number their broadcasts while they hold the write gate.
            Mode::InProcess => {
                let _gate = store.write_gate().await;
                self.seq.load(Ordering::SeqCst)
            }
        };
        Ok(Subscription { rx, after })
    }

    /// Subscriptions currently listening in this process.
    pub fn subscriber_count(&self) -> usize {
        self.tx.receiver_count()
    }
}

/// One subscriber's view of the bus.
pub struct Subscription {
    rx: broadcast::Receiver<Arc<(u64, Broadcast)>>,
    /// Broadcasts numbered up to here predate the subscription.
    after: u64,
}

/// The subscriber fell behind by this many broadcasts and was cut off.
pub struct Lagged(pub u64);

impl Subscription {
    /// The next broadcast since the subscription started; `None` when the bus closed.
    pub async fn next(&mut self) -> Result<Option<Broadcast>, Lagged> {
        loop {
            let item = match self.rx.recv().await {
                Ok(item) => item,
                Err(broadcast::error::RecvError::Closed) => return Ok(None),
                Err(broadcast::error::RecvError::Lagged(n)) => return Err(Lagged(n)),
            };
            if item.0 > self.after {
                return Ok(Some(item.1.clone()));
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

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

use sea_orm::sqlx::postgres::PgListener;
use tokio::sync::{broadcast, oneshot};
use uuid::Uuid;

use crate::domain::ids::{EventId, TenantId};
pub use crate::store::announcements::Announcement;
use crate::store::announcements::{CHANNEL, Notice};

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

    /// Begins a subscription: it receives from now on, and starts where the
    /// caller then fixes it ([`Opening::start_after`]).
    pub fn open(&self) -> Opening {
        Opening { rx: self.tx.subscribe(), bus: self.clone() }
    }

    /// The number of the last broadcast. In process, read under the write
    /// gate, it is where a subscription starts.
    pub fn last_number(&self) -> u64 {
        self.seq.load(Ordering::SeqCst)
    }

    /// Subscriptions currently listening in this process.
    pub fn subscriber_count(&self) -> usize {
        self.tx.receiver_count()
    }
}

/// A subscription that receives already but has not fixed its start.
pub struct Opening {
    rx: broadcast::Receiver<Arc<(u64, Broadcast)>>,
    bus: Bus,
}

impl Opening {
    /// On PostgreSQL, the fence the caller must send (through the store) for
    /// the subscription to learn its start; `None` in process.
    pub fn fence(&self) -> Option<Fence> {
        (self.bus.mode == Mode::Postgres).then(|| {
            let token = Uuid::new_v4();
            let (tx, arrived) = oneshot::channel();
            self.bus.fences.lock().unwrap().insert(token, tx);
            Fence { token, arrived: Some(arrived), fences: self.bus.fences.clone() }
        })
    }

    /// Delivers only broadcasts numbered after `after`.
    pub fn start_after(self, after: u64) -> Subscription {
        Subscription { rx: self.rx, after }
    }
}

/// A fence on its way around PostgreSQL; forgotten when dropped.
pub struct Fence {
    pub token: Uuid,
    arrived: Option<oneshot::Receiver<u64>>,
    fences: Arc<Mutex<HashMap<Uuid, oneshot::Sender<u64>>>>,
}

impl Fence {
    /// The number of the last broadcast before the fence, once it comes back
    /// (`None` if it does not within `limit`).
    pub async fn arrival(mut self, limit: Duration) -> Option<u64> {
        let arrived = self.arrived.take()?;
        tokio::time::timeout(limit, arrived).await.ok().and_then(Result::ok)
    }
}

impl Drop for Fence {
    fn drop(&mut self) {
        self.fences.lock().unwrap().remove(&self.token);
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

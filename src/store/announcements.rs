//! How committed events are announced between replicas on PostgreSQL: the
//! channel, the payload format and the two `pg_notify` statements (events,
//! sent inside the recording transaction so that PostgreSQL delivers them
//! only on commit and in commit order; and a subscription's fence). The bus
//! listens and decodes; only this file writes.

use sea_orm::{ConnectionTrait, DbBackend};
use uuid::Uuid;

use crate::domain::ids::{EventId, TenantId};
use crate::error::Result;

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

/// What travels on the channel.
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

async fn notify(db: &impl ConnectionTrait, payload: String) -> Result<()> {
    db.execute_raw(sea_orm::Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_notify($1, $2)",
        [CHANNEL.into(), payload.into()],
    ))
    .await?;
    Ok(())
}

/// On PostgreSQL, announces events to every replica's bus from inside the
/// recording transaction (delivered on commit, never on rollback). Elsewhere
/// nothing: the application publishes in process after the commit.
#[tracing::instrument(name = "db.announcements.events", skip_all, fields(tenant = %tenant, n = created.len()), err(Debug))]
pub async fn announce(db: &impl ConnectionTrait, tenant: TenantId, created: &[EventId]) -> Result<()> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    for chunk in created.chunks(IDS_PER_NOTIFICATION) {
        notify(db, Announcement::encode(tenant, chunk)).await?;
    }
    Ok(())
}

/// Sends a subscription's fence: its arrival, ordered with the commits, tells
/// the listener where the subscription starts.
#[tracing::instrument(name = "db.announcements.fence", skip_all, err(Debug))]
pub async fn fence(db: &impl ConnectionTrait, token: Uuid) -> Result<()> {
    notify(db, Notice::Fence(token).encode()).await
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

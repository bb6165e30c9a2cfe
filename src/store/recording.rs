//! The statements of a recording: event rows and their resource links, in
//! the caller's transaction. The steps around them (idempotency, numbering,
//! leaves, announcing) are the service's (`service::recording`). Append-only:
//! there is no update or delete of events here, by design; the counts per
//! day (`day_counts`) grow with them.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use entity::{audit_event as ev, event_resource};
use sea_orm::sea_query::Query;
use sea_orm::{ConnectionTrait, DbBackend};
use uuid::Uuid;

use crate::domain::ids::{EventId, ResourceId, TenantId};
use crate::domain::stored_event::StoredEvent;
use crate::error::{Error, Result};

/// Event rows per insert statement: 27 parameters each stays under SQLite's
/// 32,766 and PostgreSQL's 65,535 bound parameters.
pub(super) const EVENT_CHUNK: usize = crate::domain::event::MAX_BATCH;
const LINK_CHUNK: usize = 2_000;

/// A resource an event names: position 0 is its primary resource, 1… its
/// related resources in the order given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    pub event: EventId,
    pub position: i16,
    pub resource: ResourceId,
}

/// Inserts numbered events, each with the text the `text` filter searches
/// and the words the `search` filter looks for.
/// Nobody else inserts into the tenant while its head is held, so every row
/// must go in: one that conflicts is an internal error (it would leave a gap
/// in the sequence).
#[tracing::instrument(name = "db.recording.insert_events", skip_all, fields(tenant = %tenant, n = events.len()), err(Debug))]
pub async fn insert_events(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    events: &[(&StoredEvent, String, String)],
) -> Result<()> {
    let rows: Vec<ev::Model> =
        events.iter().map(|(event, text, words)| super::row::event_row(event, text.clone(), words.clone())).collect();
    let mut inserted: HashSet<Uuid> = HashSet::with_capacity(rows.len());
    for chunk in rows.chunks(EVENT_CHUNK) {
        inserted.extend(insert_rows(db, chunk).await?);
    }
    if inserted.len() != rows.len() {
        return Err(Error::internal(format!(
            "{tenant}: an event of the batch conflicted while the ledger head was held"
        )));
    }
    let stored: Vec<&StoredEvent> = events.iter().map(|(event, _, _)| *event).collect();
    super::day_counts::add(db, tenant, &stored).await
}

async fn insert_rows(db: &impl ConnectionTrait, rows: &[ev::Model]) -> Result<Vec<Uuid>> {
    // PostgreSQL's partitioned table has no unique index on the key to
    // conflict on: keys are checked under the head lock instead (see the
    // migration that partitions the tables).
    if db.get_database_backend() == DbBackend::Postgres {
        return super::sql::populate_returning_ids(db, super::sql::populate("audit_event", rows, "RETURNING id")?)
            .await;
    }
    super::sql::insert_skipping_conflicts::<ev::Entity>(db, rows, &[ev::Column::TenantId, ev::Column::IdempotencyKey])
        .await
}

/// A link as PostgreSQL stores it: with its event's `received_at`, the key
/// that puts it in its event's month.
#[derive(serde::Serialize)]
struct MonthLink<'a> {
    #[serde(flatten)]
    link: &'a event_resource::Model,
    received_at: DateTime<Utc>,
}

/// Inserts the links of events received at `received_at`.
#[tracing::instrument(name = "db.recording.insert_links", skip_all, fields(tenant = %tenant, n = links.len()), err(Debug))]
pub async fn insert_links(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    links: &[Link],
    received_at: DateTime<Utc>,
) -> Result<()> {
    let rows: Vec<event_resource::Model> = links
        .iter()
        .map(|l| event_resource::Model {
            event_id: l.event.0,
            position: l.position,
            tenant_id: tenant.0,
            resource_id: l.resource.0,
        })
        .collect();
    for chunk in rows.chunks(LINK_CHUNK) {
        if db.get_database_backend() == DbBackend::Postgres {
            let month: Vec<MonthLink> = chunk.iter().map(|link| MonthLink { link, received_at }).collect();
            db.execute_raw(super::sql::populate("event_resource", &month, "")?).await?;
            continue;
        }
        use event_resource::Column as C;
        let mut insert = Query::insert();
        insert.into_table(event_resource::Entity).columns([C::EventId, C::Position, C::TenantId, C::ResourceId]);
        for l in chunk {
            insert.values_panic([l.event_id.into(), l.position.into(), l.tenant_id.into(), l.resource_id.into()]);
        }
        db.execute(&insert).await?;
    }
    Ok(())
}

/// Events of the tenant stored under these idempotency keys by a batch that
/// committed while this one waited for the head. SQLite has one writer at a
/// time, so nothing can have: only PostgreSQL looks.
pub async fn committed_meanwhile(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    keys: &[&str],
) -> Result<Vec<StoredEvent>> {
    if db.get_database_backend() != DbBackend::Postgres || keys.is_empty() {
        return Ok(Vec::new());
    }
    super::events::by_idempotency_keys(db, tenant, keys).await
}

//! Recording audit events: a batch stored with its actors, resources and
//! links, idempotency keys honoured, sequence numbers assigned and the ledger
//! grown under the tenant's head lock, announced on commit. Append-only: there
//! is no update or delete here, by design.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::{audit_event as ev, event_resource};
use sea_orm::sea_query::Query;
use sea_orm::{ConnectionTrait, DbBackend};
use uuid::Uuid;

use crate::domain::event::NewEvent;
use crate::domain::ids::{EventId, TenantId};
use crate::error::{Error, Result};
use crate::ledger::Hash;
use crate::ledger::event::PendingLeaf;

use super::events::by_idempotency_keys;
use super::{actors, resources};

/// Event rows per insert statement: 27 parameters each stays under SQLite's
/// 32,766 and PostgreSQL's 65,535 bound parameters.
pub(super) const EVENT_CHUNK: usize = crate::domain::event::MAX_BATCH;
const LINK_CHUNK: usize = 2_000;

/// What a batch recording did.
pub struct Recorded {
    /// The stored event of every input, in input order (duplicates included).
    pub events: Vec<ev::Model>,
    /// IDs of the events this batch stored, in recording order.
    pub created: Vec<EventId>,
}

/// Stores a batch inside the caller's transaction.
#[tracing::instrument(name = "db.recording.record_in", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn record_in(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    batch: Vec<NewEvent>,
    received_at: DateTime<Utc>,
) -> Result<Recorded> {
    // Idempotency keys already stored, and repeats within the batch.
    let keys: Vec<&str> = batch.iter().filter_map(|e| e.idempotency_key.as_deref()).collect();
    let mut by_key: HashMap<String, ev::Model> = by_idempotency_keys(db, tenant, &keys)
        .await?
        .into_iter()
        .filter_map(|m| m.idempotency_key.clone().map(|k| (k, m)))
        .collect();
    let mut first_in_batch = HashSet::new();
    let to_store: Vec<usize> = (0..batch.len())
        .filter(|&i| match batch[i].idempotency_key.as_deref() {
            None => true,
            Some(key) => !by_key.contains_key(key) && first_in_batch.insert(key),
        })
        .collect();

    let actor_ids =
        actors::upsert(db, tenant, to_store.iter().map(|&i| &batch[i].actor).collect(), received_at).await?;
    let resource_ids = resources::upsert(
        db,
        tenant,
        to_store.iter().flat_map(|&i| batch[i].resource.iter().chain(batch[i].related_resources.iter())).collect(),
        received_at,
    )
    .await?;
    let resource_id = |kind: &str, external_id: &str| {
        resource_ids
            .get(&(kind.to_string(), external_id.to_string()))
            .copied()
            .ok_or_else(|| Error::internal(format!("resource {kind}/{external_id} was not upserted")))
    };

    // Rows and links, IDs allocated in input order so they sort as recorded,
    // and their leaves hashed up to the sequence number: all of it before the
    // tenant's head is taken, so that other writers wait only for the rest.
    let mut rows: Vec<ev::Model> = Vec::with_capacity(to_store.len());
    let mut links: Vec<event_resource::Model> = Vec::new();
    for &i in &to_store {
        let e = &batch[i];
        let id = EventId::generate().0;
        let actor_id = actor_ids
            .get(&(e.actor.kind, e.actor.external_id.clone()))
            .ok_or_else(|| Error::internal("actor was not upserted"))?
            .0;
        let primary = e.resource.as_ref().map(|r| resource_id(&r.kind, &r.external_id)).transpose()?;
        if let Some(primary) = primary {
            links.push(event_resource::Model {
                event_id: id,
                position: 0,
                tenant_id: tenant.0,
                resource_id: primary.0,
            });
        }
        for (n, r) in e.related_resources.iter().enumerate() {
            links.push(event_resource::Model {
                event_id: id,
                position: n as i16 + 1,
                tenant_id: tenant.0,
                resource_id: resource_id(&r.kind, &r.external_id)?.0,
            });
        }
        let request = e.request.clone();
        rows.push(ev::Model {
            id,
            tenant_id: tenant.0,
            action: e.action.clone(),
            category: e.category().to_string(),
            outcome: e.outcome.as_str().to_string(),
            occurred_at: e.occurred_at,
            received_at,
            actor_id,
            resource_id: primary.map(|r| r.0),
            summary: e.summary.clone(),
            reason: e.reason.clone(),
            error_message: e.error_message.clone(),
            environment: e.environment.clone(),
            source_service: e.source_service.clone(),
            correlation_id: e.correlation_id.clone(),
            has_request: request.is_some(),
            request_id: request.as_ref().and_then(|r| r.id.clone()),
            request_method: request.as_ref().and_then(|r| r.method.clone()),
            request_path: request.as_ref().and_then(|r| r.path.clone()),
            request_status: request.as_ref().and_then(|r| r.status),
            request_latency_ms: request.as_ref().and_then(|r| r.latency_ms),
            request_ip: request.as_ref().and_then(|r| r.ip_address.map(|ip| ip.to_string())),
            request_user_agent: request.as_ref().and_then(|r| r.user_agent.clone()),
            metadata: serde_json::Value::Object(e.metadata.clone()),
            changes: serde_json::to_value(&e.changes).map_err(Error::internal)?,
            idempotency_key: e.idempotency_key.clone(),
            search_text: e.search_text(),
            // Assigned under the head, below.
            sequence: 0,
            recorded: crate::ledger::event::recorded(e),
        });
    }
    let leaves: Vec<PendingLeaf> = rows.iter().map(PendingLeaf::of).collect();

    // The month the rows go to (a no-op unless a clock left the months made
    // ahead), before the head so that making it never holds up the tenant.
    super::partitions::ensure(db, received_at).await?;
    // The tenant's critical section, held to commit: take the head, then the
    // sequence numbers, leaves and tree hashes follow it with no gap.
    let mut head = super::ledger::lock_head(db, tenant).await?;
    // A batch that committed the same idempotency key while this one waited
    // for the head is now visible: its inputs become duplicates.
    let pending: Vec<&str> = rows.iter().filter_map(|row| row.idempotency_key.as_deref()).collect();
    if db.get_database_backend() == DbBackend::Postgres && !pending.is_empty() {
        for m in by_idempotency_keys(db, tenant, &pending).await? {
            if let Some(k) = m.idempotency_key.clone() {
                by_key.insert(k, m);
            }
        }
    }
    let is_new = |row: &ev::Model| row.idempotency_key.as_ref().is_none_or(|k| !by_key.contains_key(k));
    let mut staged: Vec<(usize, ev::Model, PendingLeaf)> =
        to_store.into_iter().zip(rows).zip(leaves).map(|((i, row), leaf)| (i, row, leaf)).collect();
    staged.retain(|(_, row, _)| is_new(row));
    let mut to_store = Vec::with_capacity(staged.len());
    let mut rows = Vec::with_capacity(staged.len());
    let mut leaves = Vec::with_capacity(staged.len());
    for (i, row, leaf) in staged {
        to_store.push(i);
        rows.push(row);
        leaves.push(leaf);
    }
    let stored_ids: HashSet<Uuid> = rows.iter().map(|row| row.id).collect();
    links.retain(|link| stored_ids.contains(&link.event_id));
    for (n, row) in rows.iter_mut().enumerate() {
        row.sequence = (head.size() + 1 + n as u64) as i64;
    }

    // Nobody else inserts into this tenant while the head is held, so every
    // row goes in; a skipped one would leave a gap in the sequence.
    let mut inserted: HashSet<Uuid> = HashSet::with_capacity(rows.len());
    for chunk in rows.chunks(EVENT_CHUNK) {
        inserted.extend(insert_rows(db, chunk).await?);
    }
    if inserted.len() != rows.len() {
        return Err(Error::internal("an event of the batch conflicted while the ledger head was held"));
    }
    for chunk in links.chunks(LINK_CHUNK) {
        insert_links(db, chunk, received_at).await?;
    }
    let hashes: Vec<Hash> = rows.iter().zip(&leaves).map(|(row, leaf)| leaf.hash(row.sequence as u64)).collect();
    super::ledger::append_leaves(db, tenant, &mut head, &hashes, received_at).await?;

    // Each input is either the row this batch inserted for it, or the event
    // already stored under its idempotency key.
    let mut created = Vec::with_capacity(inserted.len());
    let mut events: Vec<Option<ev::Model>> = vec![None; batch.len()];
    for (&i, row) in to_store.iter().zip(rows) {
        if inserted.contains(&row.id) {
            created.push(EventId(row.id));
            if let Some(k) = &row.idempotency_key {
                by_key.insert(k.clone(), row.clone());
            }
            events[i] = Some(row);
        }
    }
    let events = events
        .into_iter()
        .zip(&batch)
        .map(|(row, e)| match row {
            Some(row) => Ok(row),
            None => e
                .idempotency_key
                .as_ref()
                .and_then(|k| by_key.get(k).cloned())
                .ok_or_else(|| Error::internal("an event was neither stored nor a duplicate")),
        })
        .collect::<Result<Vec<_>>>()?;
    super::announcements::announce(db, tenant, &created).await?;
    Ok(Recorded { events, created })
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

async fn insert_links(
    db: &impl ConnectionTrait,
    links: &[event_resource::Model],
    received_at: DateTime<Utc>,
) -> Result<()> {
    if db.get_database_backend() == DbBackend::Postgres {
        let rows: Vec<MonthLink> = links.iter().map(|link| MonthLink { link, received_at }).collect();
        db.execute_raw(super::sql::populate("event_resource", &rows, "")?).await?;
        return Ok(());
    }
    use event_resource::Column as C;
    let mut insert = Query::insert();
    insert.into_table(event_resource::Entity).columns([C::EventId, C::Position, C::TenantId, C::ResourceId]);
    for l in links {
        insert.values_panic([l.event_id.into(), l.position.into(), l.tenant_id.into(), l.resource_id.into()]);
    }
    db.execute(&insert).await?;
    Ok(())
}

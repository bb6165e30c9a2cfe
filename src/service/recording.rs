//! Recording a batch, step by step, inside a write's transaction: which
//! inputs are new (idempotency keys), their actors and resources, the events
//! as stored, their numbers and leaves under the tenant's head, and the
//! announcement that goes out on commit. Each step's statements are the
//! store's.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use crate::domain::clock::truncate_to_micros;
use crate::domain::data_key::{DataKey, MasterKey};
use crate::domain::event::{NewEvent, NewResource};
use crate::domain::ids::{ActorId, EventId, ResourceId, TenantId};
use crate::domain::personal;
use crate::domain::stored_event::StoredEvent;
use crate::error::{Error, Result};
use crate::ledger::Hash;
use crate::ledger::event::{Links, PendingLeaf};
use crate::store::actors::ActorKey;
use crate::store::recording::Link;
use crate::store::resources::ResourceKey;
use crate::store::{actors, announcements, events, ledger, partitions, recording, resources};

use super::data_keys;

/// What a batch recording did.
pub struct Recorded {
    /// The stored event of every input, in input order (duplicates included).
    pub events: Vec<StoredEvent>,
    /// IDs of the events this batch stored, in recording order.
    pub created: Vec<EventId>,
}

/// An input on its way in: the event as it will be stored, its links, its
/// leaf hashed up to the sequence number and the text the `text` filter reads.
struct Staged {
    input: usize,
    event: StoredEvent,
    links: Vec<Link>,
    leaf: PendingLeaf,
    text: String,
    /// The words the `search` filter looks for.
    words: String,
}

/// Events already stored under the batch's idempotency keys, by key.
struct Duplicates(HashMap<String, StoredEvent>);

impl Duplicates {
    fn add(&mut self, stored: Vec<StoredEvent>) {
        for event in stored {
            if let Some(key) = event.idempotency_key.clone() {
                self.0.insert(key, event);
            }
        }
    }

    fn has(&self, key: Option<&str>) -> bool {
        key.is_some_and(|k| self.0.contains_key(k))
    }

    /// The inputs to store: those without a key, and the first of each key
    /// not stored yet.
    fn fresh(&self, batch: &[NewEvent]) -> Vec<usize> {
        let mut first = HashSet::new();
        (0..batch.len())
            .filter(|&i| match batch[i].idempotency_key.as_deref() {
                None => true,
                Some(key) => !self.0.contains_key(key) && first.insert(key),
            })
            .collect()
    }
}

/// Stores a batch in the transaction `db`, received at `received_at`.
pub async fn record_in(
    db: &impl ConnectionTrait,
    master: &MasterKey,
    tenant: TenantId,
    batch: Vec<NewEvent>,
    received_at: DateTime<Utc>,
) -> Result<Recorded> {
    let keys: Vec<&str> = batch.iter().filter_map(|e| e.idempotency_key.as_deref()).collect();
    let mut duplicates = Duplicates(HashMap::new());
    duplicates.add(events::by_idempotency_keys(db, tenant, &keys).await?);
    let fresh = duplicates.fresh(&batch);

    // Everything that needs no number is done before the tenant's head is
    // taken, so that other writers wait only for the rest.
    let actor_ids = actors::upsert(db, tenant, fresh.iter().map(|&i| &batch[i].actor).collect(), received_at).await?;
    let resource_ids = resources::upsert(
        db,
        tenant,
        fresh.iter().flat_map(|&i| batch[i].resource.iter().chain(&batch[i].related_resources)).collect(),
        received_at,
    )
    .await?;
    // Each actor with something personal to seal gets its data key.
    let mut sealing: Vec<ActorId> = fresh
        .iter()
        .filter(|&&i| personal::has_personal(&batch[i]))
        .filter_map(|&i| actor_ids.get(&(batch[i].actor.kind, batch[i].actor.external_id.clone())).copied())
        .collect();
    sealing.sort();
    sealing.dedup();
    let keys = data_keys::for_recording(db, master, tenant, &sealing, received_at).await?;
    let mut staged = fresh
        .iter()
        .map(|&i| stage(tenant, i, &batch[i], &actor_ids, &resource_ids, &keys, received_at))
        .collect::<Result<Vec<_>>>()?;
    // The month the rows go to (a no-op unless a clock left the months made
    // ahead), before the head so that making it never holds up the tenant.
    partitions::ensure(db, received_at).await?;

    // The tenant's critical section, held to commit: take the head, then the
    // sequence numbers, leaves and tree hashes follow it with no gap.
    let mut head = ledger::lock_head(db, tenant).await?;
    let pending: Vec<&str> = staged.iter().filter_map(|s| s.event.idempotency_key.as_deref()).collect();
    duplicates.add(recording::committed_meanwhile(db, tenant, &pending).await?);
    staged.retain(|s| !duplicates.has(s.event.idempotency_key.as_deref()));
    for (n, s) in staged.iter_mut().enumerate() {
        s.event.sequence = (head.size() + 1 + n as u64) as i64;
    }
    let rows: Vec<(&StoredEvent, String, String)> =
        staged.iter_mut().map(|s| (&s.event, std::mem::take(&mut s.text), std::mem::take(&mut s.words))).collect();
    recording::insert_events(db, tenant, &rows).await?;
    let links: Vec<Link> = staged.iter().flat_map(|s| s.links.iter().copied()).collect();
    recording::insert_links(db, tenant, &links, received_at).await?;
    let hashes: Vec<Hash> = staged.iter().map(|s| s.leaf.hash(s.event.sequence as u64)).collect();
    ledger::append_leaves(db, tenant, &mut head, &hashes, received_at).await?;
    let created: Vec<EventId> = staged.iter().map(|s| s.event.id).collect();
    announcements::announce(db, tenant, &created).await?;

    // Each input is either the event this batch stored for it, or the one
    // already stored under its idempotency key.
    let mut answer: Vec<Option<StoredEvent>> = vec![None; batch.len()];
    for s in staged {
        duplicates.add(vec![s.event.clone()]);
        answer[s.input] = Some(s.event);
    }
    let events = answer
        .into_iter()
        .zip(&batch)
        .map(|(stored, input)| match stored {
            Some(event) => Ok(event),
            None => input
                .idempotency_key
                .as_ref()
                .and_then(|k| duplicates.0.get(k).cloned())
                .ok_or_else(|| Error::internal("an event was neither stored nor a duplicate")),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Recorded { events, created })
}

/// An input as it will be stored, with a new ID (allocated in input order,
/// so IDs sort as recorded) and its sequence still to be assigned.
fn stage(
    tenant: TenantId,
    input: usize,
    e: &NewEvent,
    actor_ids: &HashMap<ActorKey, ActorId>,
    resource_ids: &HashMap<ResourceKey, ResourceId>,
    keys: &HashMap<ActorId, DataKey>,
    received_at: DateTime<Utc>,
) -> Result<Staged> {
    let id = EventId::generate();
    let resource_id = |r: &NewResource| {
        resource_ids
            .get(&(r.kind.clone(), r.external_id.clone()))
            .copied()
            .ok_or_else(|| Error::internal(format!("resource {}/{} was not upserted", r.kind, r.external_id)))
    };
    let actor_id: ActorId = *actor_ids
        .get(&(e.actor.kind, e.actor.external_id.clone()))
        .ok_or_else(|| Error::internal("actor was not upserted"))?;
    let primary = e.resource.as_ref().map(resource_id).transpose()?;
    let mut links: Vec<Link> = primary.map(|resource| Link { event: id, position: 0, resource }).into_iter().collect();
    let related = e.related_resources.iter().map(resource_id).collect::<Result<Vec<_>>>()?;
    for (n, &resource) in related.iter().enumerate() {
        links.push(Link { event: id, position: n as i16 + 1, resource });
    }
    let mut event = StoredEvent {
        id,
        tenant,
        sequence: 0,
        action: e.action.clone(),
        category: e.category().to_string(),
        outcome: e.outcome,
        // Stored to the microsecond: the leaf must hold what is stored.
        occurred_at: truncate_to_micros(e.occurred_at),
        received_at: truncate_to_micros(received_at),
        actor_id,
        resource_id: primary,
        summary: e.summary.clone(),
        reason: e.reason.clone(),
        error_message: e.error_message.clone(),
        environment: e.environment.clone(),
        source_service: e.source_service.clone(),
        correlation_id: e.correlation_id.clone(),
        request: e.request.clone(),
        metadata: serde_json::Value::Object(e.metadata.clone()),
        changes: serde_json::to_value(&e.changes).map_err(Error::internal)?,
        idempotency_key: e.idempotency_key.clone(),
        recorded: crate::ledger::event::recorded(e, &Links { actor: actor_id, resource: primary, related: &related }),
    };
    if let Some(key) = keys.get(&actor_id) {
        personal::seal(&mut event, key, &e.personal);
    }
    let leaf = PendingLeaf::of(&event);
    let words = crate::domain::words::stored(crate::domain::words::event_texts(e));
    Ok(Staged { input, event, links, leaf, text: e.search_text(), words })
}

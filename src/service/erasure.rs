//! Erasing an actor's personal data (API.md Part 3, "Erasure that keeps
//! every proof valid"): its data key is destroyed, so every value its events
//! seal reads as `null` from then on while every leaf, and so every proof,
//! stays as it was; its profile's name and email are cleared; the plaintext
//! copies its events keep for filters are scrubbed; and the erasure is
//! recorded as `privacy.erase`, without the erased values.

use serde_json::json;

use super::policy::Operation;
use super::self_audit::{self, Acting};
use super::session::Session;
use super::unit_of_work::UnitOfWork;
use crate::bus::Bus;
use crate::domain::actor::Actor;
use crate::domain::event::NewResource;
use crate::domain::ids::{ActorId, TenantId};
use crate::domain::{personal, words};
use crate::error::{Error, Result};
use crate::store::erasure;
use crate::store::rewrite::{self, RequestCopies, Rewrite};
use crate::store::{Store, actors, data_keys, events, tenants};

/// Events read at a time while scrubbing.
const CHUNK: u64 = 1_000;

/// What an erasure did.
pub struct Erased {
    /// The actor, its profile cleared.
    pub actor: Actor,
    /// Its events that held sealed values, now unreadable.
    pub events_affected: u64,
}

/// `eraseActor(id)`, for a caller with `admin`, in its tenant.
pub async fn erase_actor(session: &Session, id: ActorId) -> Result<Erased> {
    let requester = session.authorize(Operation::Administer)?;
    let s = session.services();
    let erased = erase(&s.store, &s.bus, requester.tenant, id, Acting::Key(requester)).await?;
    session.pin_primary();
    Ok(erased)
}

/// Erases actor `id` of `tenant`, refused while the tenant is on legal hold.
pub async fn erase(store: &Store, bus: &Bus, tenant: TenantId, id: ActorId, acting: Acting<'_>) -> Result<Erased> {
    let mut unit = UnitOfWork::begin(store, bus).await?;
    let db = unit.txn();
    let t = tenants::by_id(db, tenant).await?.ok_or_else(|| Error::internal("the tenant vanished"))?;
    if t.legal_hold {
        return Err(Error::Forbidden(format!(
            "tenant `{}` is on legal hold: no data of it may be erased until the hold is lifted",
            t.slug
        )));
    }
    let actor = actors::by_ids(db, tenant, &[id])
        .await?
        .pop()
        .ok_or_else(|| Error::NotFound(format!("no actor `{id}` in this tenant")))?;
    data_keys::destroy(db, tenant, id).await?;
    actors::forget_profile(db, tenant, id, unit.now).await?;
    let mut events_affected = 0;
    let mut after = 0;
    loop {
        let chunk = events::of_actor(db, tenant, id, after, CHUNK).await?;
        let Some(last) = chunk.last() else { break };
        after = last.sequence;
        let scrubs: Vec<Rewrite> = chunk
            .iter()
            .filter(|e| personal::has_sealed(e))
            .map(|event| Rewrite { event, words: words::stored_event_words(event) })
            .collect();
        events_affected += scrubs.len() as u64;
        rewrite::rewrite(db, tenant, &scrubs, RequestCopies::Clear).await?;
        if (chunk.len() as u64) < CHUNK {
            break;
        }
    }
    let event = self_audit::self_audit(
        unit.now,
        "privacy.erase",
        &acting,
        NewResource { kind: "actor".into(), external_id: id.to_string(), name: None },
        format!("Erased the personal data of actor {id}"),
        json!({ "actorId": id.to_string(), "eventsAffected": events_affected }),
    );
    unit.record(tenant, vec![event]).await?;
    unit.commit().await?;
    erasure::flush_log(store.db()).await?;
    Ok(Erased { actor: Actor { display_name: None, email: None, ..actor }, events_affected })
}

//! The actors' data keys as operations use them: the master key loaded at
//! start, a key made for each actor the first time it records something
//! personal, and keys read back to open events for every door.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use serde_json::Value;

use crate::domain::data_key::{DataKey, MasterKey};
use crate::domain::ids::{ActorId, TenantId};
use crate::domain::personal;
use crate::domain::stored_event::StoredEvent;
use crate::error::{Error, Result};
use crate::store::{Store, data_keys};

use super::policy::Operation;
use super::session::Session;

/// Loads the master key: the operator's file (`--data-key`), else the key
/// kept in the database, else a new one kept there, with a warning at every
/// start. A file whose key is not the one the stored data keys were wrapped
/// by is refused: it would make every personal value read as erased.
pub async fn load_master(store: &Store, file: Option<&Path>) -> Result<MasterKey> {
    let db = store.db();
    let given = file
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::bad_input("--data-key", format!("cannot read {}: {e}", path.display())))?;
            MasterKey::from_file_text(&text).ok_or_else(|| {
                Error::bad_input(
                    "--data-key",
                    format!("{} is not a data key file (`auditgraph datakey FILE` writes one)", path.display()),
                )
            })
        })
        .transpose()?;
    if data_keys::master(db).await?.is_none() {
        let (key, stored) = match &given {
            Some(key) => (key.clone(), None),
            None => {
                let key = MasterKey::generate();
                let text = key.to_file_text();
                (key, Some(text))
            }
        };
        let _gate = store.write_gate().await;
        data_keys::insert_master(db, key.fingerprint(), stored, store.now()).await?;
    }
    let row = data_keys::master(db).await?.ok_or_else(|| Error::internal("the master key's row was not stored"))?;
    let key = match (given, row.stored_key) {
        (Some(key), _) => key,
        (None, Some(text)) => {
            tracing::warn!(
                "personal data is sealed with keys wrapped by a master key kept in the database: a copy of the \
                 database holds everything needed to read it. Create a key with `auditgraph datakey FILE` and \
                 pass it with --data-key"
            );
            MasterKey::from_file_text(&text).ok_or_else(|| Error::internal("the stored master key is unreadable"))?
        }
        (None, None) => {
            return Err(Error::bad_input(
                "--data-key",
                "this database's data keys are wrapped by a master key given with --data-key: give it again",
            ));
        }
    };
    if key.fingerprint() != row.fingerprint {
        return Err(Error::bad_input(
            "--data-key",
            "this is not the master key this database's data keys are wrapped by",
        ));
    }
    Ok(key)
}

/// The data keys of `actors`, made and stored for those without one, in the
/// recording's transaction.
pub async fn for_recording(
    db: &impl ConnectionTrait,
    master: &MasterKey,
    tenant: TenantId,
    actors: &[ActorId],
    now: DateTime<Utc>,
) -> Result<HashMap<ActorId, DataKey>> {
    let stored = data_keys::wrapped(db, tenant, actors).await?;
    let missing: Vec<(ActorId, String)> =
        actors.iter().filter(|a| !stored.contains_key(a)).map(|&a| (a, master.wrap(a, &DataKey::generate()))).collect();
    if missing.is_empty() {
        return unwrap_all(master, stored);
    }
    data_keys::insert_missing(db, tenant, missing, now).await?;
    // Read back: a concurrent recording may have stored its key first.
    unwrap_all(master, data_keys::wrapped(db, tenant, actors).await?)
}

fn unwrap_all(master: &MasterKey, wrapped: HashMap<ActorId, String>) -> Result<HashMap<ActorId, DataKey>> {
    wrapped
        .into_iter()
        .map(|(actor, text)| {
            let key = master
                .unwrap_key(actor, &text)
                .ok_or_else(|| Error::internal(format!("the data key of {actor} does not unwrap")))?;
            Ok((actor, key))
        })
        .collect()
}

/// The data keys that still exist of `actors` (an erased actor has none).
pub async fn for_opening(
    db: &impl ConnectionTrait,
    master: &MasterKey,
    tenant: TenantId,
    actors: &[ActorId],
) -> Result<HashMap<ActorId, DataKey>> {
    unwrap_all(master, data_keys::wrapped(db, tenant, actors).await?)
}

/// An actor's data key, as a request's loader holds it.
#[derive(Clone, Debug)]
pub struct OpeningKey {
    pub tenant: TenantId,
    pub actor: ActorId,
    pub key: DataKey,
}

/// The data keys of these actors of the caller's tenant that still exist,
/// to open events the caller has read.
pub async fn for_session(session: &Session, actors: &[ActorId]) -> Result<Vec<OpeningKey>> {
    let requester = session.authorize(Operation::ReadEvents)?;
    let tenant = requester.tenant;
    let master = session.services().store.master_key()?;
    let keys = for_opening(session.reader(), master, tenant, actors).await?;
    Ok(keys.into_iter().map(|(actor, key)| OpeningKey { tenant, actor, key }).collect())
}

/// The opened form of events the caller has read (see [`open_events`]).
pub async fn opened_for(session: &Session, rows: &[StoredEvent]) -> Result<Vec<Value>> {
    open_events(session.reader(), session.services().store.master_key()?, rows).await
}

/// The opened form of stored events (API.md Part 3, "Two forms"): what REST,
/// CSV, webhooks and Splunk serve. One statement for all their keys, none
/// when nothing is sealed.
pub async fn open_events(db: &impl ConnectionTrait, master: &MasterKey, rows: &[StoredEvent]) -> Result<Vec<Value>> {
    let mut keys: HashMap<(TenantId, ActorId), DataKey> = HashMap::new();
    let mut by_tenant: HashMap<TenantId, HashSet<ActorId>> = HashMap::new();
    for row in rows.iter().filter(|r| personal::has_sealed(r)) {
        by_tenant.entry(row.tenant).or_default().insert(row.actor_id);
    }
    for (tenant, actors) in by_tenant {
        let actors: Vec<ActorId> = actors.into_iter().collect();
        for (actor, key) in for_opening(db, master, tenant, &actors).await? {
            keys.insert((tenant, actor), key);
        }
    }
    Ok(rows.iter().map(|row| crate::ledger::event::opened(row, keys.get(&(row.tenant, row.actor_id)))).collect())
}

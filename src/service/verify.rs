//! Checking the log without trusting the server: an NDJSON export against a
//! signed checkpoint, or a tenant's stored events against its stored tree and
//! persisted checkpoints (finds rows edited or deleted behind the server's back).

use std::collections::HashMap;
use std::io::BufRead;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::domain::actor::Actor;
use crate::domain::ids::{ActorId, EventId, ResourceId, TenantId};
use crate::domain::stored_event::StoredEvent;
use crate::error::{Error, Result};
use crate::ledger::cosignature::{self, CosignatureVerifier};
use crate::ledger::{self, Frontier, NoteVerifier};
use crate::store::resources::LinkedResource;
use crate::store::{Store, events, ledger as stored};

/// Events read per chunk when verifying a tenant.
const CHUNK: u64 = 2_000;

/// Why a verification failed: said so a person can act on it.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Server(#[from] Error),
}

fn failed(message: impl Into<String>) -> VerifyError {
    VerifyError::Failed(message.into())
}

/// A checkpoint as `--checkpoint` gives it: the signed note itself, or its
/// base64 (the `Audit-Checkpoint` header of an export).
pub fn checkpoint_text(raw: &str) -> String {
    let trimmed = raw.trim();
    if !trimmed.contains('\n')
        && let Ok(bytes) = STANDARD.decode(trimmed)
        && let Ok(text) = String::from_utf8(bytes)
    {
        return text;
    }
    raw.to_string()
}

/// Checks an NDJSON export that starts at sequence 1 against a signed
/// checkpoint: every line is a leaf, in sequence order; their tree must have
/// the checkpoint's size and root, and the checkpoint the key's signature.
/// Returns (events, checkpoint size).
pub fn export(lines: impl BufRead, checkpoint: &str, verifier_key: &str) -> Result<(u64, u64), VerifyError> {
    let verifier = NoteVerifier::from_verifier_key(verifier_key.trim())
        .map_err(|e| failed(format!("--key is not a note verifier key: {e}")))?;
    let checkpoint = verifier
        .verify_checkpoint(&checkpoint_text(checkpoint))
        .map_err(|e| failed(format!("the checkpoint's signature does not verify with this key: {e}")))?;
    let mut frontier = Frontier::empty();
    let mut tenant: Option<String> = None;
    for (n, line) in lines.split(b'\n').enumerate() {
        let line = line.map_err(|e| failed(format!("cannot read the export: {e}")))?;
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        if line.is_empty() {
            continue;
        }
        let expected = frontier.size() + 1;
        let at = format!("line {}", n + 1);
        let event: serde_json::Value =
            serde_json::from_slice(line).map_err(|e| failed(format!("{at} is not JSON: {e}")))?;
        if event.get("sequence").and_then(|s| s.as_str()) != Some(expected.to_string().as_str()) {
            return Err(failed(format!(
                "{at}: expected the event with sequence {expected}; the export must start at 1 and have no gap"
            )));
        }
        let owner = event.get("tenantId").and_then(|t| t.as_str()).unwrap_or_default().to_string();
        if tenant.get_or_insert_with(|| owner.clone()) != &owner {
            return Err(failed(format!("{at}: an event of another tenant ({owner})")));
        }
        frontier.append(ledger::leaf_hash(line));
    }
    if let Some(tenant) = &tenant
        && !checkpoint.origin.ends_with(&format!("/{tenant}"))
    {
        return Err(failed(format!("the checkpoint is for log `{}`, not for tenant {tenant}", checkpoint.origin)));
    }
    if frontier.size() != checkpoint.size {
        return Err(failed(format!(
            "the export holds {} events but the checkpoint is of size {}",
            frontier.size(),
            checkpoint.size
        )));
    }
    if frontier.root() != checkpoint.root {
        return Err(failed(format!(
            "the events do not hash to the checkpoint's root: the export was changed (root {} ≠ {})",
            STANDARD.encode(frontier.root()),
            STANDARD.encode(checkpoint.root)
        )));
    }
    Ok((frontier.size(), checkpoint.size))
}

/// The witnesses a checkpoint must be cosigned by (`--witness-key`, `--quorum`).
pub struct Witnesses {
    keys: Vec<CosignatureVerifier>,
    quorum: usize,
}

impl Witnesses {
    /// Reads the witness keys and the quorum (default: all of them); `None` without keys.
    pub fn parse(keys: &[String], quorum: Option<usize>) -> Result<Option<Self>, String> {
        let mut parsed: Vec<CosignatureVerifier> = Vec::new();
        for key in keys {
            let key = CosignatureVerifier::from_verifier_key(key)
                .map_err(|e| format!("--witness-key `{key}` is not a witness verifier key: {e}"))?;
            if !parsed.iter().any(|k| k.label() == key.label()) {
                parsed.push(key);
            }
        }
        if parsed.is_empty() {
            return Ok(None);
        }
        let quorum = quorum.unwrap_or(parsed.len());
        if quorum == 0 || quorum > parsed.len() {
            return Err(format!("--quorum must be from 1 to the {} witness keys given, not {quorum}", parsed.len()));
        }
        Ok(Some(Witnesses { keys: parsed, quorum }))
    }

    /// Checks that the checkpoint (note or base64) carries valid
    /// cosignatures by at least the quorum of the witnesses; says by whom.
    pub fn check(&self, checkpoint: &str) -> Result<String, VerifyError> {
        let note = checkpoint_text(checkpoint);
        let cosigners = cosignature::cosigners(&note, &self.keys)
            .map_err(|e| failed(format!("the checkpoint's cosignatures do not verify: {e}")))?;
        let names = |keys: &mut dyn Iterator<Item = &CosignatureVerifier>| -> String {
            keys.map(CosignatureVerifier::label).collect::<Vec<_>>().join(", ")
        };
        let (found, given) = (cosigners.len(), self.keys.len());
        if found < self.quorum {
            let missing = names(&mut self.keys.iter().filter(|k| !cosigners.contains(k)));
            return Err(failed(format!(
                "the checkpoint is cosigned by {found} of the {given} witnesses given, fewer than the quorum of {}; \
                 no valid cosignature by {missing}",
                self.quorum
            )));
        }
        Ok(format!(
            "cosigned by {found} of the {given} witnesses given (quorum {}): {}",
            self.quorum,
            names(&mut cosigners.into_iter())
        ))
    }
}

/// What `verify --tenant` found when everything holds.
pub struct TenantReport {
    /// Events recomputed from their rows.
    pub events: u64,
    /// Events purged by retention (their leaves were taken from the ledger).
    pub purged: u64,
    pub size: u64,
    pub checkpoints: usize,
}

/// Recomputes every stored event's leaf from its row and the tree from the
/// leaves, and checks them against the stored hashes, the head and every
/// persisted checkpoint. The first mismatch names its sequence.
pub async fn tenant(store: &Store, tenant: TenantId) -> Result<TenantReport, VerifyError> {
    let db = store.db();
    let head = stored::head(db, tenant).await?;
    let checkpoints = stored::all_checkpoints(db, tenant).await?;
    // Purged events are gone, but their leaves stay in the ledger: the tree
    // resumes from the stored hashes, and checkpoints within the purged
    // prefix are checked against them.
    let purged = crate::store::retention::purged_through(db, tenant).await?;
    let mut pending = checkpoints.iter().peekable();
    while let Some(c) = pending.next_if(|c| c.size as u64 <= purged) {
        let root = crate::service::ledger::root_at(db, tenant, c.size as u64).await?;
        if c.root_hash != root {
            return Err(failed(format!("the stored tree does not match the checkpoint of size {}", c.size)));
        }
    }
    // The server's own records are never purged: those within the purged
    // prefix are checked one by one against their stored leaves.
    let kept = kept_in_purged_prefix(db, tenant, purged).await?;
    let mut frontier = if purged == 0 {
        Frontier::empty()
    } else {
        let hashes =
            stored::read_hashes(db, tenant, &ledger::tree_root_indexes(purged).map_err(Error::internal)?).await?;
        Frontier::from_stored_hashes(purged, &hashes)
            .map_err(|e| failed(format!("the ledger lacks the hashes of the purged events: {e}")))?
    };
    loop {
        let rows = events::by_sequence(db, tenant, frontier.size() + 1, CHUNK).await?;
        if rows.is_empty() {
            break;
        }
        let indexes: Vec<u64> = rows.iter().map(|r| ledger::leaf_stored_index(r.sequence as u64 - 1)).collect();
        let stored_leaves = stored::read_hashes(db, tenant, &indexes).await?;
        let links = StoredLinks::of(db, tenant, &rows).await?;
        for row in rows {
            let expected = frontier.size() + 1;
            if row.sequence as u64 != expected {
                return Err(failed(format!(
                    "sequence {expected} is missing from the stored events (next is {})",
                    row.sequence
                )));
            }
            let leaf = ledger::event::hash(&row);
            match stored_leaves.get(&ledger::leaf_stored_index(expected - 1)) {
                Some(hash) if *hash == leaf => {}
                Some(_) => {
                    return Err(failed(format!(
                        "sequence {expected}: the stored event no longer matches its leaf hash (event {} was changed)",
                        row.id
                    )));
                }
                None => return Err(failed(format!("sequence {expected}: the ledger has no leaf for it"))),
            }
            links.check(&row).map_err(|what| {
                failed(format!(
                    "sequence {expected}: {what} is not the one its leaf names (event {} was changed)",
                    row.id
                ))
            })?;
            frontier.append(leaf);
            while let Some(c) = pending.next_if(|c| c.size as u64 == frontier.size()) {
                if c.root_hash != frontier.root() {
                    return Err(failed(format!(
                        "the events up to sequence {} do not hash to the root of the checkpoint of size {}",
                        frontier.size(),
                        c.size
                    )));
                }
            }
        }
    }
    if let Some(last) = checkpoints.last()
        && (last.size as u64) > frontier.size()
    {
        return Err(failed(format!(
            "the log holds {} events but a checkpoint of size {} was persisted: events {} to {} are missing",
            frontier.size(),
            last.size,
            frontier.size() + 1,
            last.size
        )));
    }
    if head.size() != frontier.size() {
        return Err(failed(format!(
            "the log holds {} events but its tree has {} leaves: events {} to {} are missing",
            frontier.size(),
            head.size(),
            frontier.size() + 1,
            head.size()
        )));
    }
    if head.frontier.root() != frontier.root() {
        return Err(failed("the tree's head does not match the stored events"));
    }
    Ok(TenantReport {
        events: frontier.size() - purged + kept,
        purged: purged - kept,
        size: head.size(),
        checkpoints: checkpoints.len(),
    })
}

/// Checks each event still stored up to sequence `purged` (the self-audit
/// events retention keeps) against its stored leaf; how many there are.
async fn kept_in_purged_prefix(
    db: &impl sea_orm::ConnectionTrait,
    tenant: TenantId,
    purged: u64,
) -> Result<u64, VerifyError> {
    let mut follow = crate::service::follow::Follow::new(tenant, crate::domain::filter::Filter::all(), 0, CHUNK);
    let mut kept = 0;
    while let Some(batch) = follow.next(db, purged).await? {
        let indexes: Vec<u64> = batch.events.iter().map(|r| ledger::leaf_stored_index(r.sequence as u64 - 1)).collect();
        let stored_leaves = stored::read_hashes(db, tenant, &indexes).await?;
        for row in &batch.events {
            if stored_leaves.get(&ledger::leaf_stored_index(row.sequence as u64 - 1)) != Some(&ledger::event::hash(row))
            {
                return Err(failed(format!(
                    "sequence {}: the stored event no longer matches its leaf hash (event {} was changed)",
                    row.sequence, row.id
                )));
            }
        }
        kept += batch.events.len() as u64;
    }
    Ok(kept)
}

/// The actors and resources a chunk of events is linked to as stored, to
/// hold against the ones each leaf names: by type and external ID, and by
/// node ID in leaves of version 2.
struct StoredLinks {
    actors: HashMap<ActorId, Actor>,
    resources: HashMap<EventId, Vec<LinkedResource>>,
}

impl StoredLinks {
    /// Two statements per chunk, whatever its size.
    async fn of(db: &impl sea_orm::ConnectionTrait, tenant: TenantId, rows: &[StoredEvent]) -> Result<StoredLinks> {
        let mut actor_ids: Vec<ActorId> = rows.iter().map(|r| r.actor_id).collect();
        actor_ids.sort_unstable_by_key(|a| a.0);
        actor_ids.dedup();
        let actors =
            crate::store::actors::by_ids(db, tenant, &actor_ids).await?.into_iter().map(|a| (a.id, a)).collect();
        let ids: Vec<EventId> = rows.iter().map(|r| r.id).collect();
        let mut resources: HashMap<EventId, Vec<LinkedResource>> = HashMap::new();
        for link in crate::store::resources::for_events(db, tenant, &ids).await? {
            resources.entry(EventId(link.event_id)).or_default().push(link);
        }
        for links in resources.values_mut() {
            links.sort_unstable_by_key(|l| l.position);
        }
        Ok(StoredLinks { actors, resources })
    }

    /// `Err` names the link that differs from the leaf.
    fn check(&self, row: &StoredEvent) -> std::result::Result<(), &'static str> {
        let named = |part: &Value, kind: &str, external_id: &str, id: String| {
            part.get("type").and_then(Value::as_str) == Some(kind)
                && part.get("externalId").and_then(Value::as_str) == Some(external_id)
                && (ledger::event::version(row) < 2 || part.get("id").and_then(Value::as_str) == Some(id.as_str()))
        };
        let leaf = |key: &str| row.recorded.get(key).cloned().unwrap_or(Value::Null);
        let actor = self.actors.get(&row.actor_id).ok_or("its actor")?;
        if !named(&leaf("actor"), actor.kind.as_str(), &actor.external_id, actor.id.to_string()) {
            return Err("its actor");
        }
        let links = self.resources.get(&row.id).map(Vec::as_slice).unwrap_or_default();
        let (primary, related) = match links.first() {
            Some(first) if first.position == 0 => (Some(first), &links[1..]),
            _ => (None, links),
        };
        let resource = |link: &LinkedResource, part: &Value| {
            named(part, &link.kind, &link.external_id, ResourceId(link.id).to_string())
        };
        match (primary, leaf("resource")) {
            (None, Value::Null) if row.resource_id.is_none() => {}
            (Some(link), part) if row.resource_id == Some(ResourceId(link.id)) && resource(link, &part) => {}
            _ => return Err("its resource"),
        }
        let named_related = match leaf("relatedResources") {
            Value::Array(parts) => parts,
            _ => Vec::new(),
        };
        let in_order = related.iter().enumerate().all(|(n, link)| link.position as usize == n + 1);
        if !in_order
            || related.len() != named_related.len()
            || !related.iter().zip(&named_related).all(|(link, part)| resource(link, part))
        {
            return Err("its related resources");
        }
        Ok(())
    }
}

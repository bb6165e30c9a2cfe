//! The ledger's operations: signed checkpoints, proofs, the checkpoint job,
//! and building the tree of events stored before the ledger existed.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use entity::ledger_checkpoint;
use sea_orm::ConnectionTrait;

use super::witnesses::WitnessSet;
use crate::domain::ids::TenantId;
use crate::error::{Error, Result};
use crate::ledger::{self, Checkpoint, Hash, NoteSigner};
use crate::store::{Store, events, ledger as stored};

/// The name a generated signing key gets.
const GENERATED_KEY_NAME: &str = "auditgraph";
/// Events hashed per transaction when building the tree of older events.
const CATCH_UP_CHUNK: u64 = 5_000;

/// A tree head signed as a C2SP checkpoint.
#[derive(Clone, Debug)]
pub struct SignedCheckpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// The whole signed note, with the witnesses' cosignatures.
    pub note: String,
    pub issued_at: DateTime<Utc>,
    /// The cosignature lines of the configured witnesses (in the note too).
    pub cosignatures: Vec<String>,
    /// Whether a quorum of the configured witnesses cosigned it.
    pub witnessed: bool,
}

impl SignedCheckpoint {
    fn from_stored(origin: String, row: ledger_checkpoint::Model) -> Result<Self> {
        Ok(SignedCheckpoint {
            origin,
            size: row.size as u64,
            root: row
                .root_hash
                .as_slice()
                .try_into()
                .map_err(|_| Error::internal("a checkpoint root is not 32 bytes"))?,
            note: row.signed_note,
            issued_at: row.issued_at,
            cosignatures: Vec::new(),
            witnessed: false,
        })
    }
}

/// An RFC 9162 inclusion proof.
#[derive(Clone, Debug)]
pub struct InclusionProof {
    pub leaf_index: u64,
    pub tree_size: u64,
    pub hashes: Vec<Hash>,
}

/// Base64 (standard, padded) of a hash, as the API shows hashes.
pub use crate::ledger::encode_hash as b64;

/// Signs checkpoints of every tenant's tree.
pub struct Ledger {
    signer: NoteSigner,
    log_origin: String,
    witnesses: Arc<WitnessSet>,
}

impl Ledger {
    pub fn new(signer: NoteSigner, log_origin: &str) -> Self {
        Ledger { signer, log_origin: log_origin.trim_end_matches('/').to_string(), witnesses: Arc::default() }
    }

    /// The witnesses whose cosignatures served checkpoints carry.
    pub fn with_witnesses(self, witnesses: Arc<WitnessSet>) -> Self {
        Ledger { witnesses, ..self }
    }

    pub fn witnesses(&self) -> &Arc<WitnessSet> {
        &self.witnesses
    }

    /// `<log origin>/<tenant ID>`.
    pub fn origin(&self, tenant: TenantId) -> String {
        format!("{}/{tenant}", self.log_origin)
    }

    /// The note verifier key (`<name>+<hex id>+<base64>`) checkpoints verify with.
    pub fn verifier_key(&self) -> String {
        self.signer.verifier_key()
    }

    fn sign(&self, tenant: TenantId, size: u64, root: Hash, at: DateTime<Utc>) -> Result<SignedCheckpoint> {
        let origin = self.origin(tenant);
        let checkpoint = Checkpoint::new(origin.clone(), size, root).map_err(Error::internal)?;
        let note = self.signer.sign_checkpoint(&checkpoint).map_err(Error::internal)?;
        Ok(SignedCheckpoint { origin, size, root, note, issued_at: at, cosignatures: Vec::new(), witnessed: false })
    }

    /// The tenant's current tree head, signed at `now`, with the witnesses'
    /// cosignatures of that size.
    pub async fn current(
        &self,
        db: &impl ConnectionTrait,
        tenant: TenantId,
        now: DateTime<Utc>,
    ) -> Result<SignedCheckpoint> {
        let head = stored::head(db, tenant).await?;
        let mut signed = self.sign(tenant, head.size(), head.frontier.root(), now)?;
        self.witnesses.attach(db, tenant, std::slice::from_mut(&mut signed)).await?;
        Ok(signed)
    }

    /// Persisted checkpoints, newest first.
    pub async fn checkpoints(
        &self,
        db: &impl ConnectionTrait,
        tenant: TenantId,
        page: &crate::domain::page::Page<i64>,
    ) -> Result<crate::domain::page::PageResult<SignedCheckpoint>> {
        let rows = stored::checkpoints(db, tenant, page).await?;
        let origin = self.origin(tenant);
        let mut items = rows
            .items
            .into_iter()
            .map(|row| SignedCheckpoint::from_stored(origin.clone(), row))
            .collect::<Result<Vec<_>>>()?;
        self.witnesses.attach(db, tenant, &mut items).await?;
        Ok(crate::domain::page::PageResult {
            items,
            has_next_page: rows.has_next_page,
            has_previous_page: rows.has_previous_page,
        })
    }

    /// Persists a signed checkpoint of every tenant whose tree grew since its
    /// last one; returns how many.
    pub async fn persist_grown(&self, store: &Store) -> Result<usize> {
        let db = store.db();
        let done = stored::checkpointed_sizes(db).await?;
        let mut persisted = 0;
        for (tenant, head) in stored::heads(db).await? {
            if head.size() == 0 || done.get(&tenant).copied().unwrap_or(0) >= head.size() {
                continue;
            }
            let signed = self.sign(tenant, head.size(), head.frontier.root(), store.now())?;
            let _gate = store.write_gate().await;
            stored::insert_checkpoint(
                db,
                tenant,
                ledger_checkpoint::Model {
                    tenant_id: tenant.0,
                    size: signed.size as i64,
                    root_hash: signed.root.to_vec(),
                    signed_note: signed.note,
                    issued_at: signed.issued_at,
                },
            )
            .await?;
            persisted += 1;
        }
        Ok(persisted)
    }
}

/// The signer: the operator's key file, else the key generated earlier and kept
/// in the database, else a new one kept there (with a warning each start).
pub async fn load_signer(store: &Store, key_file: Option<&Path>) -> Result<NoteSigner> {
    if let Some(path) = key_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::bad_input("--signing-key", format!("cannot read {}: {e}", path.display())))?;
        return NoteSigner::from_private_key(text.trim()).map_err(|e| {
            Error::bad_input("--signing-key", format!("{} is not a note private key: {e}", path.display()))
        });
    }
    let db = store.db();
    if stored::generated_key(db).await?.is_none() {
        let (_, private_key) = NoteSigner::generate(GENERATED_KEY_NAME).map_err(Error::internal)?;
        let _gate = store.write_gate().await;
        stored::store_generated_key(db, GENERATED_KEY_NAME, &private_key, store.now()).await?;
    }
    let row = stored::generated_key(db).await?.ok_or_else(|| Error::internal("the generated key was not stored"))?;
    tracing::warn!(
        "checkpoints are signed with a key kept in the database: anyone who can write the database could forge \
         them. Create a key with `auditgraph keygen` and pass it with --signing-key"
    );
    NoteSigner::from_private_key(&row.private_key).map_err(Error::internal)
}

fn size_arg(value: i64, path: &str) -> Result<u64> {
    u64::try_from(value).map_err(|_| Error::bad_input(path, "must not be negative"))
}

/// The inclusion proof of leaf `leaf_index` in the tree of `tree_size` leaves
/// (default: the current size), from one read of the head and one of hashes.
pub async fn inclusion_proof(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    leaf_index: u64,
    tree_size: Option<i64>,
) -> Result<InclusionProof> {
    let mut proofs = inclusion_proofs(db, tenant, &[(leaf_index, tree_size)]).await?;
    proofs.pop().ok_or_else(|| Error::internal("no proof for the one leaf asked"))?
}

/// The inclusion proofs of many leaves, each `(leaf index, tree size)` as in
/// [`inclusion_proof`], in two statements whatever their number: the head,
/// then every stored hash any of them needs. A proof that cannot be given
/// (a tree size out of range) is an `Err` in its place; a failed read fails all.
pub async fn inclusion_proofs(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    wanted: &[(u64, Option<i64>)],
) -> Result<Vec<Result<InclusionProof>>> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let current = stored::head(db, tenant).await?.size();
    let checked = |leaf_index: u64, tree_size: Option<i64>| -> Result<(u64, Vec<u64>)> {
        let tree_size = match tree_size {
            None => current,
            Some(n) => size_arg(n, "treeSize")?,
        };
        if tree_size > current {
            return Err(Error::bad_input(
                "treeSize",
                format!("the tree has {current} leaves; treeSize {tree_size} is beyond it"),
            ));
        }
        if tree_size <= leaf_index {
            return Err(Error::bad_input(
                "treeSize",
                format!("the event is leaf {leaf_index}; a tree of {tree_size} leaves does not contain it"),
            ));
        }
        Ok((tree_size, ledger::inclusion_indexes(leaf_index, tree_size).map_err(Error::internal)?))
    };
    let plans: Vec<Result<(u64, Vec<u64>)>> = wanted.iter().map(|&(leaf, size)| checked(leaf, size)).collect();
    let mut indexes: Vec<u64> = plans.iter().flatten().flat_map(|(_, indexes)| indexes.iter().copied()).collect();
    indexes.sort_unstable();
    indexes.dedup();
    let hashes = stored::read_hashes(db, tenant, &indexes).await?;
    Ok(wanted
        .iter()
        .zip(plans)
        .map(|(&(leaf_index, _), plan)| {
            let (tree_size, _) = plan?;
            let hashes = ledger::inclusion_proof(leaf_index, tree_size, &hashes).map_err(Error::internal)?;
            Ok(InclusionProof { leaf_index, tree_size, hashes })
        })
        .collect())
}

/// The consistency proof between the trees of `from` and `to` (default: the
/// current size) leaves.
pub async fn consistency_proof(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    from: i64,
    to: Option<i64>,
) -> Result<Vec<Hash>> {
    let current = stored::head(db, tenant).await?.size();
    let from = size_arg(from, "fromSize")?;
    let to = match to {
        None => current,
        Some(n) => size_arg(n, "toSize")?,
    };
    if to > current {
        return Err(Error::bad_input("toSize", format!("the tree has {current} leaves; toSize {to} is beyond it")));
    }
    if from > to {
        return Err(Error::bad_input("fromSize", format!("fromSize {from} is above toSize {to}")));
    }
    // Every tree is consistent with the empty tree and with itself: nothing to prove.
    if from == 0 || from == to {
        return Ok(Vec::new());
    }
    let indexes = ledger::consistency_indexes(from, to).map_err(Error::internal)?;
    let hashes = stored::read_hashes(db, tenant, &indexes).await?;
    ledger::consistency_proof(from, to, &hashes).map_err(Error::internal)
}

/// The root of the tenant's tree when it had `size` leaves.
pub async fn root_at(db: &impl ConnectionTrait, tenant: TenantId, size: u64) -> Result<Hash> {
    let indexes = ledger::tree_root_indexes(size).map_err(Error::internal)?;
    let hashes: HashMap<u64, Hash> = stored::read_hashes(db, tenant, &indexes).await?;
    ledger::tree_root(size, &hashes).map_err(Error::internal)
}

/// Builds the tree of events that were numbered before the ledger existed
/// (a database migrated from an earlier version), in chunks, under the
/// tenant's head lock. A no-op once every tree is whole.
pub async fn catch_up(store: &Store) -> Result<u64> {
    let db = store.db();
    let mut hashed = 0;
    for (tenant, head) in stored::heads(db).await? {
        if stored::max_sequence(db, tenant).await? <= head.size() {
            continue;
        }
        tracing::info!(%tenant, "building the ledger of events stored before it existed");
        loop {
            let (_gate, txn) = store.begin_write().await?;
            let mut head = stored::lock_head(&txn, tenant).await?;
            let rows = events::by_sequence(&txn, tenant, head.size() + 1, CATCH_UP_CHUNK).await?;
            if rows.is_empty() {
                txn.commit().await?;
                break;
            }
            stored::append_events(&txn, tenant, &mut head, &rows, store.now()).await?;
            txn.commit().await?;
            hashed += rows.len() as u64;
        }
    }
    Ok(hashed)
}

/// The caller's tenant's ledger, as a session reads it: authorized like any
/// read of events, and read on the primary (the newest events must be
/// provable at once).
pub mod reads {
    use super::*;
    use crate::domain::page::{Page, PageResult};
    use crate::service::policy::Operation;
    use crate::service::session::Session;

    /// The tenant the caller may read the ledger of.
    fn tenant(session: &Session) -> Result<TenantId> {
        Ok(session.authorize(Operation::ReadEvents)?.tenant)
    }

    /// Leaves in the caller's tree.
    pub async fn size(session: &Session) -> Result<u64> {
        Ok(stored::head(session.services().store.db(), tenant(session)?).await?.size())
    }

    /// The caller's current tree head, signed now.
    pub async fn checkpoint(session: &Session) -> Result<SignedCheckpoint> {
        let tenant = tenant(session)?;
        let services = session.services();
        services.ledger.current(services.store.db(), tenant, services.store.now()).await
    }

    /// The caller's persisted checkpoints, newest first.
    pub async fn checkpoints(session: &Session, page: &Page<i64>) -> Result<PageResult<SignedCheckpoint>> {
        let tenant = tenant(session)?;
        let services = session.services();
        services.ledger.checkpoints(services.store.db(), tenant, page).await
    }

    /// The consistency proof between two sizes of the caller's tree.
    pub async fn consistency(session: &Session, from: i64, to: Option<i64>) -> Result<Vec<Hash>> {
        consistency_proof(session.services().store.db(), tenant(session)?, from, to).await
    }

    /// Inclusion proofs of leaves of the caller's tree (see [`inclusion_proofs`]).
    pub async fn inclusion_proofs_for(
        session: &Session,
        wanted: &[(u64, Option<i64>)],
    ) -> Result<Vec<Result<InclusionProof>>> {
        inclusion_proofs(session.services().store.db(), tenant(session)?, wanted).await
    }
}

/// One event of the caller's with its inclusion proof in the tree of
/// `tree_size` leaves (default: the current size), read on the primary as the
/// proof is: the newest events are provable at once. `NOT_FOUND` for an event
/// the caller may not see.
pub async fn event_with_proof(
    session: &crate::service::session::Session,
    id: crate::domain::ids::EventId,
    tree_size: Option<i64>,
) -> Result<(crate::domain::stored_event::StoredEvent, InclusionProof)> {
    session.pin_primary();
    let event = crate::service::reads::event(session, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no event `{id}` in this tenant")))?;
    let mut proofs = reads::inclusion_proofs_for(session, &[((event.sequence - 1) as u64, tree_size)]).await?;
    let proof = proofs.pop().ok_or_else(|| Error::internal("no proof for the one leaf asked"))??;
    Ok((event, proof))
}

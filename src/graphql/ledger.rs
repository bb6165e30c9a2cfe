//! `Query.ledger`: the caller's tenant's Merkle tree, its signed checkpoints
//! and consistency proofs.

use async_graphql::{Context, Object, SimpleObject};

use super::connection::connection;
use super::context::ContextExt;
use super::scalars::{BigInt, DateTime};
use crate::domain::cursor::Cursor;
use crate::domain::page::PageArgs;
use crate::service::ledger::{SignedCheckpoint, b64, reads};
use crate::service::reads::Counted;

/// A signed tree head: a C2SP checkpoint (`c2sp.org/tlog-checkpoint`) in a
/// signed note (`c2sp.org/signed-note`), signed with Ed25519.
#[derive(SimpleObject, Clone, Debug)]
pub struct Checkpoint {
    /// `<log origin>/<tenant ID>`.
    pub origin: String,
    /// Leaves in the tree: the events with sequence 1 to `size`.
    pub size: BigInt,
    /// The RFC 9162 root hash, base64.
    pub root_hash: String,
    /// The whole signed note: the checkpoint text, a blank line, the log's
    /// signature line, then the witnesses' cosignature lines.
    pub signed_note: String,
    /// When it was signed.
    pub issued_at: DateTime,
    /// The cosignature lines (`c2sp.org/tlog-cosignature`, `cosignature/v1`)
    /// of the server's witnesses for this tree size, as in `signedNote`.
    pub cosignatures: Vec<String>,
    /// Whether a quorum of the server's witnesses cosigned it (false without witnesses).
    pub witnessed: bool,
}

impl From<SignedCheckpoint> for Checkpoint {
    fn from(c: SignedCheckpoint) -> Self {
        Checkpoint {
            origin: c.origin,
            size: c.size.into(),
            root_hash: b64(&c.root),
            signed_note: c.note,
            issued_at: c.issued_at.into(),
            cosignatures: c.cosignatures,
            witnessed: c.witnessed,
        }
    }
}

/// An RFC 9162 §2.1.3 inclusion proof of one event's leaf.
#[derive(SimpleObject, Clone, Debug)]
pub struct InclusionProof {
    /// The leaf's index: the event's sequence minus one.
    pub leaf_index: BigInt,
    /// The size of the tree the proof is for.
    pub tree_size: BigInt,
    /// SHA-256(0x00 ‖ canonical event), base64.
    pub leaf_hash: String,
    /// The audit path, leaf to root, base64.
    pub hashes: Vec<String>,
}

connection!(CheckpointConnection, CheckpointEdge, Checkpoint, "checkpoint");

/// Your tenant's log as a Merkle tree (RFC 9162, SHA-256): leaf i is the
/// canonical event with sequence i + 1.
pub struct Ledger;

/// Your tenant's log as a Merkle tree (RFC 9162, SHA-256): leaf i is the
/// canonical event with sequence i + 1.
#[Object]
impl Ledger {
    /// Leaves in the tree: the highest sequence assigned.
    async fn size(&self, ctx: &Context<'_>) -> async_graphql::Result<BigInt> {
        Ok(reads::size(ctx.session()).await?.into())
    }

    /// The note verifier key checkpoints are signed with (`<name>+<hex id>+<base64>`).
    async fn verifier_key(&self, ctx: &Context<'_>) -> String {
        ctx.session().services().ledger.verifier_key()
    }

    /// The verifier keys of the witnesses the server submits checkpoints to
    /// (`<name>+<hex id>+<base64>`, signature type 0x04).
    async fn witness_keys(&self, ctx: &Context<'_>) -> Vec<String> {
        ctx.session()
            .services()
            .ledger
            .witnesses()
            .witnesses()
            .iter()
            .map(|w| w.key.verifier_key().to_string())
            .collect()
    }

    /// How many of those witnesses must cosign a checkpoint for it to be `witnessed`.
    async fn witness_quorum(&self, ctx: &Context<'_>) -> i32 {
        ctx.session().services().ledger.witnesses().quorum() as i32
    }

    /// The current tree head, signed now.
    async fn checkpoint(&self, ctx: &Context<'_>) -> async_graphql::Result<Checkpoint> {
        Ok(reads::checkpoint(ctx.session()).await?.into())
    }

    /// Checkpoints the server persisted, newest first.
    #[graphql(complexity = "super::complexity::connection(PageArgs::cost(first, last), __field, child_complexity)")]
    async fn checkpoints(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page forward: this many items (default 50, at most 500).")] first: Option<i32>,
        #[graphql(desc = "Page forward from this cursor.")] after: Option<String>,
        #[graphql(desc = "Page backward: this many items (at most 500).")] last: Option<i32>,
        #[graphql(desc = "Page backward from this cursor.")] before: Option<String>,
    ) -> async_graphql::Result<CheckpointConnection> {
        let args = PageArgs { first, after, last, before };
        let page = args.into_page(|text, path| Cursor::decode_as(text, path, Cursor::checkpoint_size))?;
        let rows = reads::checkpoints(ctx.session(), &page).await?;
        Ok(CheckpointConnection::from_page(
            rows,
            |c| Cursor::Checkpoint(c.size as i64).encode(),
            Checkpoint::from,
            Counted::checkpoints(),
        ))
    }

    /// The RFC 9162 §2.1.4 consistency proof from the tree of `fromSize` leaves
    /// to the tree of `toSize` (default: the current size), base64 hashes.
    async fn consistency_proof(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The older tree's size.")] from_size: BigInt,
        #[graphql(desc = "The newer tree's size (default: the current size).")] to_size: Option<BigInt>,
    ) -> async_graphql::Result<Vec<String>> {
        let proof = reads::consistency(ctx.session(), from_size.0, to_size.map(|n| n.0)).await?;
        Ok(proof.iter().map(b64).collect())
    }
}

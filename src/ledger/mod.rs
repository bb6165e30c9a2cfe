//! Tamper evidence, without I/O: the canonical bytes of an event, the RFC 9162
//! Merkle tree over a tenant's events, its inclusion and consistency proofs,
//! and checkpoints signed as C2SP signed notes.
//!
//! The tree follows Go's `golang.org/x/mod/sumdb/tlog` (through the
//! `tlog_tiles` port): every node hash that ever becomes final is stored once,
//! under a dense "stored hash index", so that proofs are a handful of reads.
//! Proofs come in two phases so that the store can fetch every hash a proof
//! needs in one query: first the indexes, then the proof from those hashes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

pub mod add_checkpoint;
pub mod canonical;
pub mod cosignature;
pub mod note;
pub mod proof;
#[cfg(test)]
mod reference;
pub mod tiles;
pub mod tree;

pub use canonical::{instant, jcs, leaf_hash};
pub use note::{Checkpoint, NoteSigner, NoteVerifier};
pub use proof::{
    consistency_indexes, consistency_proof, inclusion_indexes, inclusion_proof, tree_root, tree_root_indexes,
    verify_consistency, verify_inclusion,
};
/// Go tlog's stored-hash numbering: where the hash of the subtree `n` at
/// `level` is kept, and how many hashes a tree of `n` leaves keeps.
pub use tlog_tiles::{stored_hash_count, stored_hash_index};
pub use tree::{Frontier, node_hash, root_of};

/// A SHA-256 digest: a leaf hash, a node hash or a tree root.
pub type Hash = [u8; 32];

pub type Result<T, E = LedgerError> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// A leaf index, tree size or pair of sizes outside what the tree holds.
    #[error("{0}")]
    OutOfRange(String),
    /// The store did not hand over a hash that a proof or root needs.
    #[error("stored hash {0} is missing")]
    MissingHash(u64),
    /// A proof that does not lead from the leaf or old root to the root given.
    #[error("{0}")]
    ProofFailed(&'static str),
    /// A persisted frontier whose bytes do not fit its tree size.
    #[error("a frontier of size {size} needs {expected} bytes, got {got}")]
    MalformedFrontier { size: u64, expected: usize, got: usize },
    /// A key, note or checkpoint that does not parse.
    #[error("{0}")]
    Malformed(String),
    /// A note that carries no valid signature by the expected key.
    #[error("{0}")]
    BadSignature(String),
    /// The operating system's random source failed.
    #[error("the random number generator failed: {0}")]
    Random(String),
}

/// The largest tree the ledger handles: far beyond any real log, and low enough
/// that stored-hash indexes (about twice the leaf count) never overflow.
pub const MAX_TREE_SIZE: u64 = 1 << 62;

/// A hash as the API writes it: standard base64 with padding.
pub fn encode_hash(hash: &Hash) -> String {
    BASE64.encode(hash)
}

/// A hash written by [`encode_hash`].
pub fn decode_hash(text: &str) -> Result<Hash> {
    let bytes = BASE64.decode(text).map_err(|err| LedgerError::Malformed(format!("a hash must be base64: {err}")))?;
    let got = bytes.len();
    bytes.try_into().map_err(|_| LedgerError::Malformed(format!("a hash has 32 bytes, not {got}")))
}

/// A key seed from the operating system's random source.
fn random_seed() -> Result<[u8; 32]> {
    use rand::TryRngCore as _;
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.try_fill_bytes(&mut seed).map_err(|err| LedgerError::Random(err.to_string()))?;
    Ok(seed)
}

fn to_tlog(hash: &Hash) -> tlog_tiles::Hash {
    tlog_tiles::Hash(*hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_standard_padded_base64() {
        let hash = leaf_hash(b"");
        assert_eq!(encode_hash(&hash), "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=");
        assert_eq!(decode_hash(&encode_hash(&hash)), Ok(hash));
        assert!(decode_hash("bjQLnP-zepicpUTmu3gKLHiQHT-zNzh2hRGjBhevoB0=").is_err());
        assert!(decode_hash("bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0").is_err());
        assert_eq!(decode_hash("AAAA"), Err(LedgerError::Malformed("a hash has 32 bytes, not 3".into())));
    }
}

pub mod event;

/// The stored-hash index of leaf `n` (from 0).
pub fn leaf_stored_index(n: u64) -> u64 {
    stored_hash_index(0, n)
}

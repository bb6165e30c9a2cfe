//! The tree as it grows: a frontier (compact range) that appends leaves with
//! no reads and says which stored hashes each append makes final.

use std::collections::HashMap;

use tlog_tiles::stored_hash_index;

use super::{Hash, LedgerError, MAX_TREE_SIZE, Result, proof, to_tlog};

/// The RFC 9162 §2.1.1 interior node hash: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    tlog_tiles::node_hash(to_tlog(left), to_tlog(right)).0
}

/// The right edge of a tree of `size` leaves: the roots of its maximal perfect
/// subtrees, largest (leftmost) first, one per set bit of `size` (so at most 64).
/// That is all it takes to append a leaf or compute the root.
///
/// tlog has no such type: its `stored_hashes` reads the subtrees it merges
/// back from storage. The merge itself is two lines, kept here so an append
/// needs no reads; the tests check it writes what `stored_hashes` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    subtrees: Vec<Hash>,
}

impl Frontier {
    pub fn empty() -> Self {
        Self { size: 0, subtrees: Vec::new() }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The RFC 9162 Merkle Tree Hash of the tree; the empty tree's is SHA-256("").
    pub fn root(&self) -> Hash {
        let Some((last, rest)) = self.subtrees.split_last() else {
            return tlog_tiles::EMPTY_HASH.0;
        };
        rest.iter().rev().fold(*last, |right, left| node_hash(left, &right))
    }

    /// Appends a leaf hash and returns the stored hashes it makes final, as
    /// `(stored hash index, hash)`: the leaf itself, then one node for each
    /// perfect subtree the leaf completes. These are exactly the hashes Go's
    /// `tlog.StoredHashes` returns for this record, at consecutive indexes from
    /// `StoredHashIndex(0, n)`, so a store that keeps them can answer every
    /// later proof.
    pub fn append(&mut self, leaf: Hash) -> Vec<(u64, Hash)> {
        let first = stored_hash_index(0, self.size);
        let mut stored = Vec::with_capacity(1 + self.size.trailing_ones() as usize);
        self.push(leaf, |hash| stored.push((first + stored.len() as u64, hash)));
        stored
    }

    /// Appends a leaf, handing each newly final hash to `made` in order.
    fn push(&mut self, leaf: Hash, mut made: impl FnMut(Hash)) {
        made(leaf);
        // Each trailing one bit of the old size is a subtree of the same
        // height as the one being carried, waiting for its right sibling.
        let mut carried = leaf;
        for _ in 0..self.size.trailing_ones() {
            let Some(left) = self.subtrees.pop() else { break };
            carried = node_hash(&left, &carried);
            made(carried);
        }
        self.subtrees.push(carried);
        self.size += 1;
    }

    /// The subtree hashes, concatenated, to persist beside the size.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.subtrees.concat()
    }

    /// The frontier that [`Frontier::to_bytes`] wrote for a tree of `size` leaves.
    pub fn from_bytes(size: u64, bytes: &[u8]) -> Result<Self> {
        check_size(size)?;
        let expected = size.count_ones() as usize * 32;
        if bytes.len() != expected {
            return Err(LedgerError::MalformedFrontier { size, expected, got: bytes.len() });
        }
        let subtrees = bytes.chunks_exact(32).map(|chunk| chunk.try_into().unwrap_or([0; 32])).collect();
        Ok(Self { size, subtrees })
    }

    /// Rebuilds the frontier of a tree of `size` leaves from stored hashes: the
    /// ones [`proof::tree_root_indexes`] names, which are the frontier's subtrees.
    pub fn from_stored_hashes(size: u64, hashes: &HashMap<u64, Hash>) -> Result<Self> {
        let subtrees = proof::tree_root_indexes(size)?
            .into_iter()
            .map(|index| hashes.get(&index).copied().ok_or(LedgerError::MissingHash(index)))
            .collect::<Result<_>>()?;
        Ok(Self { size, subtrees })
    }
}

impl Default for Frontier {
    fn default() -> Self {
        Self::empty()
    }
}

/// The size and root of the tree over `leaves` (leaf hashes), in one pass and
/// constant memory.
pub fn root_of(leaves: impl IntoIterator<Item = Hash>) -> (u64, Hash) {
    let mut frontier = Frontier::empty();
    for leaf in leaves {
        frontier.push(leaf, |_| {});
    }
    (frontier.size(), frontier.root())
}

pub(super) fn check_size(size: u64) -> Result<()> {
    if size > MAX_TREE_SIZE {
        return Err(LedgerError::OutOfRange(format!(
            "a tree size of {size} is beyond the largest tree, {MAX_TREE_SIZE}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::leaf_hash;
    use crate::ledger::reference::{EMPTY_ROOT, RFC6962_LEAVES, RFC6962_ROOTS, hex};
    use rand::{Rng, SeedableRng, rngs::StdRng};
    use sha2::{Digest, Sha256};

    /// RFC 9162 §2.1.1's definition, recursively, written apart from the module.
    fn naive_mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => Sha256::digest(b"").into(),
            1 => leaves[0],
            n => {
                let k = if n.is_power_of_two() { n / 2 } else { 1 << (usize::BITS - 1 - n.leading_zeros()) };
                let mut hasher = Sha256::new();
                hasher.update([1]);
                hasher.update(naive_mth(&leaves[..k]));
                hasher.update(naive_mth(&leaves[k..]));
                hasher.finalize().into()
            }
        }
    }

    fn leaves(count: usize) -> Vec<Hash> {
        (0..count).map(|i| leaf_hash(format!("leaf {i}").as_bytes())).collect()
    }

    /// tlog's own writer, reading back what it wrote before.
    struct TlogStore(Vec<tlog_tiles::Hash>);

    impl tlog_tiles::HashReader for TlogStore {
        fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
            Ok(indexes.iter().map(|&i| self.0[i as usize]).collect())
        }
    }

    /// Grows one tree to `count` leaves, checking after every append that the
    /// frontier's root is the naive MTH (for the sizes in `check_root`), that
    /// it wrote exactly what tlog's `stored_hashes` writes, each index once.
    fn grow_and_check(count: usize, check_root: impl Fn(usize) -> bool) {
        let leaves = leaves(count);
        let mut frontier = Frontier::empty();
        let mut tlog = TlogStore(Vec::new());
        let mut written: HashMap<u64, Hash> = HashMap::new();
        assert_eq!(frontier.root(), naive_mth(&[]));
        for (n, leaf) in leaves.iter().enumerate() {
            let stored = frontier.append(*leaf);
            let expected = tlog_tiles::stored_hashes_for_record_hash(n as u64, tlog_tiles::Hash(*leaf), &tlog).unwrap();
            assert_eq!(stored.len(), expected.len(), "size {n}");
            for ((index, hash), want) in stored.iter().zip(&expected) {
                assert_eq!(*index, tlog.0.len() as u64, "indexes are dense and in order");
                assert_eq!(*hash, want.0, "stored hash {index}");
                assert!(written.insert(*index, *hash).is_none(), "index {index} written twice");
                tlog.0.push(*want);
            }
            let size = n + 1;
            assert_eq!(frontier.size(), size as u64);
            assert_eq!(written.len() as u64, tlog_tiles::stored_hash_count(size as u64));
            if check_root(size) {
                assert_eq!(frontier.root(), naive_mth(&leaves[..size]), "root of size {size}");
                assert_eq!(frontier.root(), tlog_tiles::tree_hash(size as u64, &tlog).unwrap().0);
            }
        }
    }

    #[test]
    fn every_size_to_300_matches_the_naive_root_and_tlog() {
        grow_and_check(300, |_| true);
    }

    #[test]
    fn random_sizes_to_2000_match_the_naive_root_and_tlog() {
        let mut rng = StdRng::seed_from_u64(0x1ed9e5);
        let checked: Vec<usize> =
            (0..40).map(|_| rng.random_range(301..=2000)).chain([511, 512, 513, 1024, 2000]).collect();
        grow_and_check(2000, |size| checked.contains(&size));
    }

    #[test]
    fn rfc6962_reference_roots() {
        let mut frontier = Frontier::empty();
        assert_eq!(hex(&frontier.root()), EMPTY_ROOT);
        for (input, root) in RFC6962_LEAVES.iter().zip(RFC6962_ROOTS) {
            frontier.append(leaf_hash(input));
            assert_eq!(hex(&frontier.root()), root, "size {}", frontier.size());
        }
        assert_eq!(hex(&root_of(RFC6962_LEAVES.iter().map(|input| leaf_hash(input))).1), RFC6962_ROOTS[7]);
    }

    #[test]
    fn root_of_streams_the_same_root() {
        let leaves = leaves(777);
        assert_eq!(root_of(leaves.iter().copied()), (777, naive_mth(&leaves)));
        assert_eq!(root_of(std::iter::empty()), (0, naive_mth(&[])));
    }

    #[test]
    fn frontier_survives_bytes_and_rebuilds_from_stored_hashes() {
        let leaves = leaves(100);
        let mut frontier = Frontier::empty();
        let mut stored = HashMap::new();
        for (n, leaf) in leaves.iter().enumerate() {
            let bytes = frontier.to_bytes();
            assert_eq!(bytes.len(), (n as u64).count_ones() as usize * 32);
            assert_eq!(Frontier::from_bytes(n as u64, &bytes).unwrap(), frontier);
            assert_eq!(Frontier::from_stored_hashes(n as u64, &stored).unwrap(), frontier);
            stored.extend(frontier.append(*leaf));
        }
        // Carry on from a restored frontier: the same hashes as without the detour.
        let mut restored = Frontier::from_bytes(100, &frontier.to_bytes()).unwrap();
        let mut direct = frontier.clone();
        assert_eq!(restored.append(leaves[0]), direct.append(leaves[0]));
    }

    #[test]
    fn malformed_frontiers_are_refused() {
        assert_eq!(
            Frontier::from_bytes(3, &[0; 32]),
            Err(LedgerError::MalformedFrontier { size: 3, expected: 64, got: 32 })
        );
        assert!(Frontier::from_bytes(0, &[0; 1]).is_err());
        assert!(matches!(Frontier::from_bytes(u64::MAX, &[]), Err(LedgerError::OutOfRange(_))));
        assert_eq!(Frontier::from_stored_hashes(5, &HashMap::new()), Err(LedgerError::MissingHash(6)));
    }
}

//! Inclusion and consistency proofs (RFC 9162 §2.1.3 and §2.1.4, the same as
//! RFC 6962 and Go's tlog), built from stored hashes in two phases: the
//! `*_indexes` function names every stored hash the proof needs, the store
//! fetches them in one query, and the matching function builds the proof from
//! that map. Both phases run tlog's own code: the first with a reader that
//! only notes which indexes tlog asks for.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use tlog_tiles::{HashReader, check_record, check_tree, prove_record, prove_tree, tree_hash};

use super::tree::check_size;
use super::{Hash, LedgerError, Result, to_tlog};

/// No valid proof in a tree of at most 2^62 leaves has more hashes than this;
/// refusing longer ones keeps verification cheap whatever a caller sends.
const MAX_PROOF_LEN: usize = 64;

/// The stored hashes an inclusion proof of leaf `leaf_index` in the tree of
/// `tree_size` leaves is built from.
pub fn inclusion_indexes(leaf_index: u64, tree_size: u64) -> Result<Vec<u64>> {
    check_leaf(leaf_index, tree_size)?;
    recorded(|reader| prove_record(tree_size, leaf_index, reader))
}

/// The inclusion proof (audit path) of leaf `leaf_index` in the tree of
/// `tree_size` leaves, from the hashes [`inclusion_indexes`] named.
pub fn inclusion_proof(leaf_index: u64, tree_size: u64, hashes: &HashMap<u64, Hash>) -> Result<Vec<Hash>> {
    check_leaf(leaf_index, tree_size)?;
    let proof = read(hashes, |reader| prove_record(tree_size, leaf_index, reader))?;
    Ok(proof.into_iter().map(|hash| hash.0).collect())
}

/// The stored hashes the consistency proof from the tree of `from` leaves to
/// the tree of `to` leaves is built from.
pub fn consistency_indexes(from: u64, to: u64) -> Result<Vec<u64>> {
    if check_sizes(from, to)? {
        return Ok(Vec::new());
    }
    recorded(|reader| prove_tree(to, from, reader))
}

/// The consistency proof from the tree of `from` leaves to the tree of `to`
/// leaves, from the hashes [`consistency_indexes`] named. It is empty when
/// `from` is 0 (every tree extends the empty one) or equals `to`.
pub fn consistency_proof(from: u64, to: u64, hashes: &HashMap<u64, Hash>) -> Result<Vec<Hash>> {
    if check_sizes(from, to)? {
        return Ok(Vec::new());
    }
    let proof = read(hashes, |reader| prove_tree(to, from, reader))?;
    Ok(proof.into_iter().map(|hash| hash.0).collect())
}

/// The stored hashes the root of the tree of `size` leaves is computed from:
/// the roots of its maximal perfect subtrees, left to right.
pub fn tree_root_indexes(size: u64) -> Result<Vec<u64>> {
    check_size(size)?;
    recorded(|reader| tree_hash(size, reader))
}

/// The root of the tree of `size` leaves (any size up to the current one),
/// from the hashes [`tree_root_indexes`] named.
pub fn tree_root(size: u64, hashes: &HashMap<u64, Hash>) -> Result<Hash> {
    check_size(size)?;
    Ok(read(hashes, |reader| tree_hash(size, reader))?.0)
}

/// Checks that `proof` shows the leaf `leaf_hash` at `leaf_index` in the tree
/// of `tree_size` leaves whose root is `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(leaf_index: u64, tree_size: u64, leaf_hash: &Hash, proof: &[Hash], root: &Hash) -> Result<()> {
    check_leaf(leaf_index, tree_size)?;
    let proof = proof_for_tlog(proof)?;
    check_record(&proof, tree_size, to_tlog(root), leaf_index, to_tlog(leaf_hash))
        .map_err(|_| LedgerError::ProofFailed("the inclusion proof does not lead from the leaf to the root"))
}

/// Checks that `proof` shows the tree of `to` leaves with root `new_root`
/// extending the tree of `from` leaves with root `old_root` (RFC 9162
/// §2.1.4.2). Equal sizes need an empty proof and equal roots; from the empty
/// tree, an empty proof and the empty tree's root.
pub fn verify_consistency(from: u64, to: u64, proof: &[Hash], old_root: &Hash, new_root: &Hash) -> Result<()> {
    let trivial = check_sizes(from, to)?;
    let failed = LedgerError::ProofFailed("the consistency proof does not lead from the old root to the new one");
    if trivial {
        let empty = &tlog_tiles::EMPTY_HASH.0;
        let old_fits = if from == 0 { old_root == empty } else { old_root == new_root };
        let new_fits = to > 0 || new_root == empty;
        return if proof.is_empty() && old_fits && new_fits { Ok(()) } else { Err(failed) };
    }
    let proof = proof_for_tlog(proof)?;
    check_tree(&proof, to, to_tlog(new_root), from, to_tlog(old_root)).map_err(|_| failed)
}

fn check_leaf(leaf_index: u64, tree_size: u64) -> Result<()> {
    check_size(tree_size)?;
    if leaf_index >= tree_size {
        return Err(LedgerError::OutOfRange(format!("leaf {leaf_index} is not in a tree of size {tree_size}")));
    }
    Ok(())
}

/// Checks `from ≤ to` within bounds; true when the proof is trivially empty.
fn check_sizes(from: u64, to: u64) -> Result<bool> {
    check_size(to)?;
    if from > to {
        return Err(LedgerError::OutOfRange(format!("a tree of size {from} cannot be a prefix of one of size {to}")));
    }
    Ok(from == 0 || from == to)
}

fn proof_for_tlog(proof: &[Hash]) -> Result<Vec<tlog_tiles::Hash>> {
    if proof.len() > MAX_PROOF_LEN {
        return Err(LedgerError::ProofFailed("the proof has more hashes than any tree needs"));
    }
    Ok(proof.iter().map(to_tlog).collect())
}

/// Runs tlog code against a reader that notes the indexes asked for and
/// answers with placeholders; the answer it computes is thrown away.
fn recorded<T>(run: impl FnOnce(&IndexRecorder) -> Result<T, tlog_tiles::Error>) -> Result<Vec<u64>> {
    let recorder = IndexRecorder::default();
    run(&recorder).map_err(|err| LedgerError::OutOfRange(err.to_string()))?;
    Ok(recorder.indexes.into_inner())
}

/// Runs tlog code against the hashes the store fetched.
fn read<T>(hashes: &HashMap<u64, Hash>, run: impl FnOnce(&MapReader) -> Result<T, tlog_tiles::Error>) -> Result<T> {
    let reader = MapReader { hashes, missing: Cell::new(None) };
    run(&reader).map_err(|err| match reader.missing.get() {
        Some(index) => LedgerError::MissingHash(index),
        None => LedgerError::OutOfRange(err.to_string()),
    })
}

#[derive(Default)]
struct IndexRecorder {
    indexes: RefCell<Vec<u64>>,
}

impl HashReader for IndexRecorder {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        self.indexes.borrow_mut().extend_from_slice(indexes);
        Ok(vec![tlog_tiles::Hash::default(); indexes.len()])
    }
}

struct MapReader<'a> {
    hashes: &'a HashMap<u64, Hash>,
    missing: Cell<Option<u64>>,
}

impl HashReader for MapReader<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|index| match self.hashes.get(index) {
                Some(hash) => Ok(to_tlog(hash)),
                None => {
                    self.missing.set(Some(*index));
                    Err(tlog_tiles::Error::IndexesNotInTree)
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::reference::{RFC6962_LEAVES, RFC6962_ROOTS, hash_from_hex as dh};
    use crate::ledger::{Frontier, leaf_hash};
    use rand::{Rng, SeedableRng, rngs::StdRng};
    use sha2::{Digest, Sha256};

    // ---- An RFC 9162 verifier written from the RFC's pseudo-code alone. ----

    fn rfc_node(left: &Hash, right: &Hash) -> Hash {
        Sha256::new().chain_update([1]).chain_update(left).chain_update(right).finalize().into()
    }

    /// Shifts `fn_` and `sn` right together until LSB(fn) is set or fn is 0.
    fn rfc_shift_to_set_bit(fn_: &mut u64, sn: &mut u64) {
        while *fn_ & 1 == 0 && *fn_ != 0 {
            *fn_ >>= 1;
            *sn >>= 1;
        }
    }

    /// RFC 9162 §2.1.3.2.
    fn rfc_verify_inclusion(leaf_index: u64, tree_size: u64, hash: &Hash, path: &[Hash], root: &Hash) -> bool {
        if leaf_index >= tree_size {
            return false;
        }
        let (mut fn_, mut sn) = (leaf_index, tree_size - 1);
        let mut r = *hash;
        for p in path {
            if sn == 0 {
                return false;
            }
            if fn_ & 1 == 1 || fn_ == sn {
                r = rfc_node(p, &r);
                if fn_ & 1 == 0 {
                    rfc_shift_to_set_bit(&mut fn_, &mut sn);
                }
            } else {
                r = rfc_node(&r, p);
            }
            fn_ >>= 1;
            sn >>= 1;
        }
        sn == 0 && r == *root
    }

    /// RFC 9162 §2.1.4.2, for 0 < first < second.
    fn rfc_verify_consistency(first: u64, second: u64, path: &[Hash], first_hash: &Hash, second_hash: &Hash) -> bool {
        assert!(0 < first && first < second);
        if path.is_empty() {
            return false;
        }
        let mut path = path.to_vec();
        if first.is_power_of_two() {
            path.insert(0, *first_hash);
        }
        let (mut fn_, mut sn) = (first - 1, second - 1);
        while fn_ & 1 == 1 {
            fn_ >>= 1;
            sn >>= 1;
        }
        let (mut fr, mut sr) = (path[0], path[0]);
        for c in &path[1..] {
            if sn == 0 {
                return false;
            }
            if fn_ & 1 == 1 || fn_ == sn {
                fr = rfc_node(c, &fr);
                sr = rfc_node(c, &sr);
                if fn_ & 1 == 0 {
                    rfc_shift_to_set_bit(&mut fn_, &mut sn);
                }
            } else {
                sr = rfc_node(&sr, c);
            }
            fn_ >>= 1;
            sn >>= 1;
        }
        fr == *first_hash && sr == *second_hash && sn == 0
    }

    // ---- A log kept the way the store keeps it. ----

    struct Log {
        leaves: Vec<Hash>,
        stored: HashMap<u64, Hash>,
        /// roots[n] is the root of the first n leaves.
        roots: Vec<Hash>,
    }

    fn log(count: usize) -> Log {
        let mut frontier = Frontier::empty();
        let mut log = Log { leaves: Vec::new(), stored: HashMap::new(), roots: vec![frontier.root()] };
        for i in 0..count {
            let leaf = leaf_hash(format!("event {i}").as_bytes());
            log.stored.extend(frontier.append(leaf));
            log.leaves.push(leaf);
            log.roots.push(frontier.root());
        }
        log
    }

    impl Log {
        /// Only the stored hashes named: what one `WHERE index IN (…)` returns.
        fn fetch(&self, indexes: &[u64]) -> HashMap<u64, Hash> {
            indexes.iter().map(|index| (*index, self.stored[index])).collect()
        }

        fn inclusion(&self, leaf: u64, size: u64) -> Vec<Hash> {
            let fetched = self.fetch(&inclusion_indexes(leaf, size).unwrap());
            inclusion_proof(leaf, size, &fetched).unwrap()
        }

        fn consistency(&self, from: u64, to: u64) -> Vec<Hash> {
            let fetched = self.fetch(&consistency_indexes(from, to).unwrap());
            consistency_proof(from, to, &fetched).unwrap()
        }
    }

    fn flipped(hash: &Hash, byte: usize) -> Hash {
        let mut hash = *hash;
        hash[byte] ^= 0x01;
        hash
    }

    /// The proof verifies with both verifiers; any flipped byte in the proof,
    /// the leaf or the root makes both refuse it.
    fn check_inclusion(log: &Log, leaf: u64, size: u64, rng: &mut StdRng) {
        let proof = log.inclusion(leaf, size);
        let (hash, root) = (&log.leaves[leaf as usize], &log.roots[size as usize]);
        assert!(rfc_verify_inclusion(leaf, size, hash, &proof, root), "rfc: leaf {leaf} size {size}");
        assert_eq!(verify_inclusion(leaf, size, hash, &proof, root), Ok(()), "leaf {leaf} size {size}");
        let refused = |hash: &Hash, proof: &[Hash], root: &Hash| {
            !rfc_verify_inclusion(leaf, size, hash, proof, root)
                && verify_inclusion(leaf, size, hash, proof, root).is_err()
        };
        for i in 0..proof.len() {
            let mut bad = proof.clone();
            bad[i] = flipped(&bad[i], rng.random_range(0..32));
            assert!(refused(hash, &bad, root), "flipped proof[{i}], leaf {leaf} size {size}");
        }
        assert!(refused(&flipped(hash, rng.random_range(0..32)), &proof, root));
        assert!(refused(hash, &proof, &flipped(root, rng.random_range(0..32))));
        let mut longer = proof.clone();
        longer.push(*root);
        assert!(refused(hash, &longer, root));
        if !proof.is_empty() {
            assert!(refused(hash, &proof[..proof.len() - 1], root));
        }
    }

    fn check_consistency(log: &Log, from: u64, to: u64, rng: &mut StdRng) {
        let proof = log.consistency(from, to);
        let (old, new) = (&log.roots[from as usize], &log.roots[to as usize]);
        assert_eq!(verify_consistency(from, to, &proof, old, new), Ok(()), "from {from} to {to}");
        if from == 0 || from == to {
            assert!(proof.is_empty());
            return;
        }
        assert!(rfc_verify_consistency(from, to, &proof, old, new), "rfc: from {from} to {to}");
        let refused = |proof: &[Hash], old: &Hash, new: &Hash| {
            !rfc_verify_consistency(from, to, proof, old, new) && verify_consistency(from, to, proof, old, new).is_err()
        };
        for i in 0..proof.len() {
            let mut bad = proof.clone();
            bad[i] = flipped(&bad[i], rng.random_range(0..32));
            assert!(refused(&bad, old, new), "flipped proof[{i}], from {from} to {to}");
        }
        assert!(refused(&proof, &flipped(old, rng.random_range(0..32)), new));
        assert!(refused(&proof, old, &flipped(new, rng.random_range(0..32))));
        assert!(refused(&proof, new, old) || old == new);
        assert!(refused(&proof[..proof.len() - 1], old, new));
        assert!(refused(&[], old, new));
    }

    #[test]
    fn every_proof_in_trees_to_64_leaves() {
        let log = log(64);
        let mut rng = StdRng::seed_from_u64(64);
        for size in 1..=64 {
            for leaf in 0..size {
                check_inclusion(&log, leaf, size, &mut rng);
            }
            for from in 0..=size {
                check_consistency(&log, from, size, &mut rng);
            }
        }
    }

    #[test]
    fn random_proofs_in_a_tree_of_3000_leaves() {
        let log = log(3000);
        let mut rng = StdRng::seed_from_u64(3000);
        for _ in 0..400 {
            let size = rng.random_range(1..=3000);
            let leaf = rng.random_range(0..size);
            check_inclusion(&log, leaf, size, &mut rng);
            let to = rng.random_range(1..=3000);
            let from = rng.random_range(1..=to);
            check_consistency(&log, from, to, &mut rng);
        }
    }

    #[test]
    fn roots_of_older_sizes_come_from_stored_hashes() {
        let log = log(700);
        for size in 0..=700 {
            let fetched = log.fetch(&tree_root_indexes(size).unwrap());
            assert_eq!(tree_root(size, &fetched).unwrap(), log.roots[size as usize], "size {size}");
        }
    }

    #[test]
    fn index_lists_are_small_and_sorted() {
        for (leaf, size) in
            [(0, 1), (0, 2), (5, 8), (999, 1000), (0, 1 << 40), ((1 << 40) - 1, 1 << 40), (12345, 1 << 61)]
        {
            let indexes = inclusion_indexes(leaf, size).unwrap();
            assert!(indexes.len() <= 64 && indexes.is_sorted(), "{leaf} {size}: {indexes:?}");
        }
        let indexes = consistency_indexes(1_000_001, (1 << 50) + 3).unwrap();
        assert!(indexes.len() <= 64 && indexes.is_sorted());
        assert_eq!(inclusion_indexes(0, 1).unwrap(), Vec::<u64>::new());
        assert_eq!(tree_root_indexes(0).unwrap(), Vec::<u64>::new());
    }

    /// transparency-dev/merkle proof/verify_test.go: the RFC 6962 reference
    /// tree of 8 leaves, with its published inclusion and consistency proofs.
    #[test]
    fn rfc6962_reference_proofs() {
        let roots = RFC6962_ROOTS.map(dh);
        let mut frontier = Frontier::empty();
        let mut stored = HashMap::new();
        for input in RFC6962_LEAVES {
            stored.extend(frontier.append(leaf_hash(input)));
        }
        assert_eq!(frontier.root(), roots[7]);

        // (leaf index, tree size, proof); the Go file counts leaves from 1.
        let inclusions = [
            (0, 1, vec![]),
            (
                0,
                8,
                vec![
                    dh("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                    dh("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                    dh("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
                ],
            ),
            (
                5,
                8,
                vec![
                    dh("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                    dh("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                    dh("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
                ],
            ),
            (2, 3, vec![dh("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
            (
                1,
                5,
                vec![
                    dh("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
                    dh("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                    dh("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                ],
            ),
        ];
        for (leaf, size, want) in inclusions {
            assert_eq!(inclusion_proof(leaf, size, &stored).unwrap(), want, "leaf {leaf} size {size}");
            let (hash, root) = (leaf_hash(RFC6962_LEAVES[leaf as usize]), roots[size as usize - 1]);
            assert!(rfc_verify_inclusion(leaf, size, &hash, &want, &root));
            assert_eq!(verify_inclusion(leaf, size, &hash, &want, &root), Ok(()));
        }

        let consistencies = [
            (1, 1, vec![]),
            (
                1,
                8,
                vec![
                    dh("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                    dh("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                    dh("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
                ],
            ),
            (
                6,
                8,
                vec![
                    dh("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                    dh("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                    dh("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
                ],
            ),
            (
                2,
                5,
                vec![
                    dh("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                    dh("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                ],
            ),
            (
                6,
                7,
                vec![
                    dh("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                    dh("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
                    dh("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
                ],
            ),
        ];
        for (from, to, want) in consistencies {
            assert_eq!(consistency_proof(from, to, &stored).unwrap(), want, "from {from} to {to}");
            let (old, new) = (roots[from as usize - 1], roots[to as usize - 1]);
            assert!(from == to || rfc_verify_consistency(from, to, &want, &old, &new));
            assert_eq!(verify_consistency(from, to, &want, &old, &new), Ok(()));
        }
    }

    #[test]
    fn out_of_range_requests_are_errors() {
        let log = log(10);
        let some = log.roots[5];
        for (leaf, size) in [(0, 0), (5, 5), (6, 5), (u64::MAX, u64::MAX), (0, u64::MAX)] {
            assert!(matches!(inclusion_indexes(leaf, size), Err(LedgerError::OutOfRange(_))), "{leaf} {size}");
            assert!(matches!(inclusion_proof(leaf, size, &log.stored), Err(LedgerError::OutOfRange(_))));
            assert!(matches!(verify_inclusion(leaf, size, &some, &[], &some), Err(LedgerError::OutOfRange(_))));
        }
        for (from, to) in [(6, 5), (1, 0), (u64::MAX, 3), (0, u64::MAX), (1 << 40, 1 << 63)] {
            assert!(matches!(consistency_indexes(from, to), Err(LedgerError::OutOfRange(_))), "{from} {to}");
            assert!(matches!(consistency_proof(from, to, &log.stored), Err(LedgerError::OutOfRange(_))));
            assert!(matches!(verify_consistency(from, to, &[], &some, &some), Err(LedgerError::OutOfRange(_))));
        }
        assert!(matches!(tree_root_indexes(u64::MAX), Err(LedgerError::OutOfRange(_))));
        assert!(matches!(tree_root(u64::MAX, &log.stored), Err(LedgerError::OutOfRange(_))));
    }

    #[test]
    fn missing_hashes_are_named() {
        let log = log(10);
        let indexes = inclusion_indexes(3, 10).unwrap();
        let mut fetched = log.fetch(&indexes);
        fetched.remove(&indexes[1]);
        assert_eq!(inclusion_proof(3, 10, &fetched), Err(LedgerError::MissingHash(indexes[1])));
        assert_eq!(tree_root(10, &HashMap::new()), Err(LedgerError::MissingHash(tree_root_indexes(10).unwrap()[0])));
        assert!(matches!(consistency_proof(3, 10, &HashMap::new()), Err(LedgerError::MissingHash(_))));
    }

    #[test]
    fn trivial_consistency() {
        let log = log(4);
        let empty = log.roots[0];
        let (one, four) = (log.roots[1], log.roots[4]);
        // From the empty tree: an empty proof, and the empty tree's root.
        assert_eq!(verify_consistency(0, 4, &[], &empty, &four), Ok(()));
        assert_eq!(verify_consistency(0, 0, &[], &empty, &empty), Ok(()));
        assert!(verify_consistency(0, 4, &[], &one, &four).is_err());
        assert!(verify_consistency(0, 0, &[], &empty, &one).is_err());
        assert!(verify_consistency(0, 4, &[empty], &empty, &four).is_err());
        // Same size: an empty proof, and the same root.
        assert_eq!(verify_consistency(4, 4, &[], &four, &four), Ok(()));
        assert!(verify_consistency(4, 4, &[], &one, &four).is_err());
        assert!(verify_consistency(4, 4, &[four], &four, &four).is_err());
        assert!(verify_consistency(1, 4, &[], &one, &four).is_err());
        // A tree of one leaf: its root is its leaf, its inclusion proof empty.
        assert_eq!(verify_inclusion(0, 1, &log.leaves[0], &[], &one), Ok(()));
        assert!(verify_inclusion(0, 1, &log.leaves[1], &[], &one).is_err());
        assert!(verify_inclusion(0, 1, &log.leaves[0], &[one], &one).is_err());
    }

    #[test]
    fn huge_proofs_are_refused_before_any_work() {
        let log = log(8);
        let proof = vec![log.roots[1]; 100_000];
        assert!(matches!(
            verify_inclusion(3, 8, &log.leaves[3], &proof, &log.roots[8]),
            Err(LedgerError::ProofFailed(_))
        ));
        assert!(matches!(
            verify_consistency(3, 8, &proof, &log.roots[3], &log.roots[8]),
            Err(LedgerError::ProofFailed(_))
        ));
        // The largest sizes verify (and fail) without overflowing.
        let size = crate::ledger::MAX_TREE_SIZE;
        assert!(verify_inclusion(size - 1, size, &log.leaves[0], &[log.roots[1]; 62], &log.roots[8]).is_err());
        assert!(verify_consistency(size - 3, size, &[log.roots[1]; 63], &log.roots[3], &log.roots[8]).is_err());
    }
}

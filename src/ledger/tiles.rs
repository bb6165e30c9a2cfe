//! Hash tiles (`c2sp.org/tlog-tiles`): the tree served as static resources of
//! 256 consecutive node hashes at levels 0, 8, 16, … The tile at level `L`,
//! index `N` holds the hashes of the perfect subtrees of height `8L` numbered
//! `256N` to `256N + W - 1`, which the ledger keeps as stored hashes: a tile is
//! one read of `W` stored hashes.
//!
//! Paths are those of `tlog_tiles` (Go's `sumdb/tlog`) without the height
//! element, which C2SP fixes at 8: `tile/<L>/<N>[.p/<W>]`, `N` in 3-digit
//! elements (`x001/x234/067`).

use tlog_tiles::stored_hash_index;

use super::{LedgerError, Result};

/// Levels of the tree a tile spans.
pub const HEIGHT: u8 = 8;
/// Hashes in a full tile.
pub const FULL_WIDTH: u32 = 1 << HEIGHT;
/// The highest level a path may name (C2SP: 0 to 63).
const MAX_LEVEL: u8 = 63;

/// A hash tile: `width` hashes from index `index * 256` at tile level `level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    level: u8,
    index: u64,
    width: u32,
}

/// What a path under `tile/` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TilePath {
    Hashes(Tile),
    /// An entry bundle (`tile/entries/…`).
    Entries,
}

impl Tile {
    /// Reads the part of a tile path after `tile/`: `<L>/<N>[.p/<W>]` or
    /// `entries/…`, in the one spelling the spec allows (no leading zeros,
    /// `W` from 1 to 255, `N` in zero-padded 3-digit elements).
    pub fn parse(path: &str) -> Result<TilePath> {
        let malformed = |why: &str| {
            LedgerError::Malformed(format!(
                "`tile/{path}` is not a tile path: {why} (tiles are tile/<L>/<N>[.p/<W>], e.g. tile/0/x001/x234/067.p/8)"
            ))
        };
        let (level, rest) = path.split_once('/').ok_or_else(|| malformed("no index"))?;
        if level == "entries" {
            return Ok(TilePath::Entries);
        }
        // tlog_tiles asserts on a level above 63 or a width of 0: checked first.
        let level = canonical_number(level)
            .filter(|&l| l <= u64::from(MAX_LEVEL))
            .ok_or_else(|| malformed("the level is a number from 0 to 63"))?;
        if let Some((_, width)) = rest.split_once(".p/") {
            canonical_number(width)
                .filter(|w| (1..u64::from(FULL_WIDTH)).contains(w))
                .ok_or_else(|| malformed("a partial tile's width is a number from 1 to 255"))?;
        }
        let tile = tlog_tiles::Tile::from_path(&format!("tile/{HEIGHT}/{level}/{rest}"))
            .map_err(|_| malformed("the index is written in 3-digit elements, all but the last starting with x"))?;
        Ok(TilePath::Hashes(Tile { level: tile.level(), index: tile.level_index(), width: tile.width() }))
    }

    pub fn new(level: u8, index: u64, width: u32) -> Result<Self> {
        if level > MAX_LEVEL || !(1..=FULL_WIDTH).contains(&width) {
            return Err(LedgerError::OutOfRange(format!("no tile has level {level} and width {width}")));
        }
        Ok(Tile { level, index, width })
    }

    pub fn level(&self) -> u8 {
        self.level
    }

    pub fn index(&self) -> u64 {
        self.index
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    /// Whether it holds all 256 hashes: it never changes again.
    pub fn is_full(&self) -> bool {
        self.width == FULL_WIDTH
    }

    /// `tile/<L>/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        let go = tlog_tiles::Tile::new(HEIGHT, self.level, self.index, self.width, false).path();
        go.replacen(&format!("tile/{HEIGHT}/"), "tile/", 1)
    }

    /// Whether a tree of `size` leaves has every hash of the tile (every
    /// subtree it lists is complete).
    pub fn within(&self, size: u64) -> bool {
        let height = u32::from(self.level) * u32::from(HEIGHT);
        let Some(subtrees) = size.checked_shr(height) else { return false };
        self.index
            .checked_mul(u64::from(FULL_WIDTH))
            .and_then(|first| first.checked_add(u64::from(self.width)))
            .is_some_and(|end| end <= subtrees)
    }

    /// Where the tile's hashes are stored, in tile order. Only for a tile
    /// [`Tile::within`] some tree.
    pub fn stored_indexes(&self) -> Vec<u64> {
        let first = self.index * u64::from(FULL_WIDTH);
        (0..u64::from(self.width)).map(|i| stored_hash_index(self.level * HEIGHT, first + i)).collect()
    }

    /// The tiles a tree of `size` leaves is served as, full and partial.
    pub fn all(size: u64) -> Vec<Tile> {
        tlog_tiles::Tile::new_tiles(HEIGHT, 0, size)
            .into_iter()
            .map(|t| Tile { level: t.level(), index: t.level_index(), width: t.width() })
            .collect()
    }
}

/// A decimal number without sign or leading zeros.
fn canonical_number(text: &str) -> Option<u64> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let padded = text.len() > 1 && text.starts_with('0');
    if !digits || padded {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::ledger::{Frontier, Hash, leaf_hash, node_hash};

    fn hashes(path: &str) -> Tile {
        match Tile::parse(path) {
            Ok(TilePath::Hashes(tile)) => tile,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn paths_are_read_and_written_as_the_spec_spells_them() {
        assert_eq!(hashes("0/000"), Tile { level: 0, index: 0, width: 256 });
        assert_eq!(hashes("0/x001/x234/067"), Tile { level: 0, index: 1_234_067, width: 256 });
        assert_eq!(hashes("1/x001/x234/067.p/8"), Tile { level: 1, index: 1_234_067, width: 8 });
        assert_eq!(hashes("63/999.p/255"), Tile { level: 63, index: 999, width: 255 });
        for path in ["0/000", "0/x001/x234/067", "2/x001/x234/067.p/8", "5/001.p/1"] {
            assert_eq!(hashes(path).path(), format!("tile/{path}"));
        }
        assert_eq!(Tile::parse("entries/000"), Ok(TilePath::Entries));
        assert_eq!(Tile::parse("entries/x001/002.p/3"), Ok(TilePath::Entries));
        for bad in [
            "",
            "0",
            "0/",
            "00/000",
            "01/000",
            "64/000",
            "255/000",
            "256/000",
            "-1/000",
            "+1/000",
            "a/000",
            "0/0",
            "0/00",
            "0/1",
            "0/0000",
            "0/x000",
            "0/000/001",
            "0/001/x002",
            "0/x1000/000",
            "0/000.p/0",
            "0/000.p/256",
            "0/000.p/08",
            "0/000.p/",
            "0/000.p/+8",
            "0/000.p",
            "0/000.q/8",
            "0/000/",
            "0//000",
            "0/x018/x446/x744/x073/x709/x551/616", // 2^64
        ] {
            assert!(matches!(Tile::parse(bad), Err(LedgerError::Malformed(_))), "{bad:?}");
        }
    }

    #[test]
    fn a_tile_is_within_a_tree_once_its_subtrees_are_complete() {
        let tile = |level, index, width| Tile::new(level, index, width).unwrap();
        assert!(tile(0, 0, 1).within(1));
        assert!(!tile(0, 0, 2).within(1));
        assert!(tile(0, 0, 256).within(256));
        assert!(!tile(0, 1, 1).within(256));
        assert!(tile(1, 0, 1).within(256));
        assert!(!tile(1, 0, 1).within(255));
        assert!(tile(1, 0, 3).within(3 * 256 + 5));
        assert!(!tile(7, 0, 1).within(1 << 55));
        assert!(tile(7, 0, 1).within(1 << 56));
        assert!(!tile(8, 0, 1).within(u64::MAX));
        assert!(!tile(63, 0, 1).within(u64::MAX));
        assert!(!tile(0, u64::MAX, 256).within(u64::MAX));
        assert!(Tile::new(64, 0, 1).is_err() && Tile::new(0, 0, 0).is_err() && Tile::new(0, 0, 257).is_err());
    }

    /// The spec's example: a tree of 70,000 leaves.
    #[test]
    fn the_tiles_of_a_tree_are_those_of_the_spec() {
        let tiles = Tile::all(70_000);
        assert_eq!(tiles.iter().filter(|t| t.level == 0 && t.is_full()).count(), 273);
        let partial: Vec<String> = tiles.iter().filter(|t| !t.is_full()).map(Tile::path).collect();
        assert_eq!(partial, ["tile/0/273.p/112", "tile/1/001.p/17", "tile/2/000.p/1"]);
        assert!(tiles.iter().any(|t| t.path() == "tile/1/000"));
        assert!(
            tiles
                .iter()
                .all(|t| t.within(70_000) && !Tile::new(t.level, t.index, t.width + 1).is_ok_and(|w| w.within(70_000)))
        );
    }

    /// Every tile of a grown tree, read from its stored hashes: each hash is
    /// the root of the subtree of 256^L leaves it covers, computed apart.
    #[test]
    fn tiles_hold_the_subtree_roots_of_their_level() {
        let size = 256 * 256 + 3 * 256 + 7;
        let leaves: Vec<Hash> = (0..size).map(|i| leaf_hash(format!("leaf {i}").as_bytes())).collect();
        let mut frontier = Frontier::empty();
        let mut stored = HashMap::new();
        for leaf in &leaves {
            stored.extend(frontier.append(*leaf));
        }
        let subtree_root = |from: usize, len: usize| -> Hash {
            let mut level: Vec<Hash> = leaves[from..from + len].to_vec();
            while level.len() > 1 {
                level = level.chunks(2).map(|pair| node_hash(&pair[0], &pair[1])).collect();
            }
            level[0]
        };
        for tile in Tile::all(size as u64) {
            let span = 256usize.pow(u32::from(tile.level));
            for (i, index) in tile.stored_indexes().into_iter().enumerate() {
                let n = tile.index as usize * 256 + i;
                assert_eq!(stored[&index], subtree_root(n * span, span), "{} hash {i}", tile.path());
            }
        }
    }
}

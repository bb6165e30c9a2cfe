//! The tenants' trees as C2SP hash tiles (`c2sp.org/tlog-tiles`).

use crate::error::{Error, Result};
use crate::ledger::MAX_TREE_SIZE;
use crate::ledger::tiles::{Tile, TilePath};
use crate::service::policy::Operation;
use crate::service::session::Session;
use crate::store::ledger as stored;

/// The tile of the caller's tree at `coordinates` (`<L>/<N>[.p/<W>]`) and its
/// bytes: its hashes, 32 bytes each, in order. One read of its stored hashes,
/// on the primary (a replica may trail the checkpoint that names the tile); a
/// hash is stored once the subtree it is the root of is complete, so a tile
/// with a hash missing is beyond the tree (`NOT_FOUND`).
pub async fn read(session: &Session, coordinates: &str) -> Result<(Tile, Vec<u8>)> {
    let tenant = session.authorize(Operation::ReadEvents)?.tenant;
    let tile = match Tile::parse(coordinates).map_err(|e| Error::bad_input("tile", e.to_string()))? {
        TilePath::Hashes(tile) => tile,
        TilePath::Entries => {
            return Err(Error::NotFound(
                "entry bundles are not served: read the entries from /v1/events or /export".into(),
            ));
        }
    };
    let beyond = || Error::NotFound(format!("{} is beyond the tree", tile.path()));
    if !tile.within(MAX_TREE_SIZE) {
        return Err(beyond());
    }
    let indexes = tile.stored_indexes();
    let hashes = stored::read_hashes(session.services().store.db(), tenant, &indexes).await?;
    let mut bytes = Vec::with_capacity(indexes.len() * 32);
    for index in &indexes {
        bytes.extend_from_slice(hashes.get(index).ok_or_else(beyond)?);
    }
    Ok((tile, bytes))
}

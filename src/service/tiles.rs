//! The tenants' trees as C2SP hash tiles (`c2sp.org/tlog-tiles`).

use sea_orm::ConnectionTrait;

use crate::domain::ids::TenantId;
use crate::error::{Error, Result};
use crate::ledger::MAX_TREE_SIZE;
use crate::ledger::tiles::Tile;
use crate::store::ledger as stored;

/// The tile's bytes (its hashes, 32 bytes each, in order), or `None` while
/// the tenant's tree does not reach it: one read of its stored hashes, which
/// exist exactly once the subtrees they are the roots of are complete.
pub async fn read(db: &impl ConnectionTrait, tenant: TenantId, tile: &Tile) -> Result<Option<Vec<u8>>> {
    if !tile.within(MAX_TREE_SIZE) {
        return Ok(None);
    }
    let indexes = tile.stored_indexes();
    let hashes = stored::read_hashes(db, tenant, &indexes).await?;
    if hashes.len() < indexes.len() {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(indexes.len() * 32);
    for index in &indexes {
        let hash = hashes.get(index).ok_or_else(|| Error::internal(format!("stored hash {index} vanished")))?;
        bytes.extend_from_slice(hash);
    }
    Ok(Some(bytes))
}

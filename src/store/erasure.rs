//! What an erasure needs of the database beyond the rewrite of its events
//! (`rewrite`, with the request's plaintext copies cleared): that nothing
//! erased lingers in SQLite's write-ahead log.

use sea_orm::{ConnectionTrait, DbBackend};

use crate::error::Result;

/// Checkpoints SQLite's write-ahead log into the database file and empties
/// it, so the pages that held erased values (overwritten with zeros by
/// `secure_delete`) leave no older copy in the log. A no-op on PostgreSQL.
pub async fn flush_log(db: &impl ConnectionTrait) -> Result<()> {
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await?;
    }
    Ok(())
}

//! The one update audit events allow: after an actor's data key is
//! destroyed, the plaintext copies of its personal values that filters read
//! (the request's address and user agent, the words) are cleared from its
//! events, under a rewrite permit (see the erasure migration's triggers).
//! Nothing a leaf holds changes.

use entity::audit_event as ev;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DbBackend};

use super::permit::{self, Permit};
use crate::domain::ids::TenantId;
use crate::domain::stored_event::StoredEvent;
use crate::error::Result;

/// One event to scrub: its plaintext request fields cleared, its words replaced.
pub struct Scrub<'a> {
    pub event: &'a StoredEvent,
    pub words: String,
}

/// Scrubs events of `tenant`, in the caller's transaction.
#[tracing::instrument(name = "db.erasure.scrub", skip_all, fields(tenant = %tenant, n = scrubs.len()), err(Debug))]
pub async fn scrub(db: &impl ConnectionTrait, tenant: TenantId, scrubs: &[Scrub<'_>]) -> Result<()> {
    if scrubs.is_empty() {
        return Ok(());
    }
    permit::grant(db, Permit::Rewrite, tenant).await?;
    for s in scrubs {
        let mut update = Query::update();
        update
            .table(ev::Entity)
            .value(ev::Column::RequestIp, Option::<String>::None)
            .value(ev::Column::RequestUserAgent, Option::<String>::None)
            .value(ev::Column::SearchWords, s.words.clone())
            .and_where(Expr::col(ev::Column::TenantId).eq(tenant.0))
            .and_where(Expr::col(ev::Column::Id).eq(s.event.id.0));
        if db.get_database_backend() == DbBackend::Postgres {
            // The month's partition only.
            update.and_where(Expr::col(ev::Column::ReceivedAt).eq(s.event.received_at));
        }
        db.execute(&update).await?;
    }
    permit::revoke(db, Permit::Rewrite, tenant).await
}

/// Checkpoints SQLite's write-ahead log into the database file and empties
/// it, so the pages that held erased values (overwritten with zeros by
/// `secure_delete`) leave no older copy in the log. A no-op on PostgreSQL.
pub async fn flush_log(db: &impl ConnectionTrait) -> Result<()> {
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await?;
    }
    Ok(())
}

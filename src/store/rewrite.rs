//! The one update audit events allow, under a rewrite permit (see the
//! erasure migration's triggers): an event's search words replaced and, for
//! an erasure, the plaintext copies of its request's address and user agent
//! cleared. Nothing a leaf holds changes.

use entity::audit_event as ev;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DbBackend};

use super::permit::{self, Permit};
use crate::domain::ids::TenantId;
use crate::domain::stored_event::StoredEvent;
use crate::error::Result;

/// One event's new words.
pub struct Rewrite<'a> {
    pub event: &'a StoredEvent,
    pub words: String,
}

/// What becomes of the request's plaintext copies (`request_ip`, `request_user_agent`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestCopies {
    Keep,
    Clear,
}

/// Rewrites events of `tenant`, in the caller's transaction.
#[tracing::instrument(name = "db.rewrite", skip_all, fields(tenant = %tenant, n = rewrites.len()), err(Debug))]
pub async fn rewrite(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    rewrites: &[Rewrite<'_>],
    request: RequestCopies,
) -> Result<()> {
    if rewrites.is_empty() {
        return Ok(());
    }
    permit::grant(db, Permit::Rewrite, tenant).await?;
    for r in rewrites {
        let mut update = Query::update();
        update
            .table(ev::Entity)
            .value(ev::Column::SearchWords, r.words.clone())
            .and_where(Expr::col(ev::Column::TenantId).eq(tenant.0))
            .and_where(Expr::col(ev::Column::Id).eq(r.event.id.0));
        if request == RequestCopies::Clear {
            update
                .value(ev::Column::RequestIp, Option::<String>::None)
                .value(ev::Column::RequestUserAgent, Option::<String>::None);
        }
        if db.get_database_backend() == DbBackend::Postgres {
            // The month's partition only.
            update.and_where(Expr::col(ev::Column::ReceivedAt).eq(r.event.received_at));
        }
        db.execute(&update).await?;
    }
    permit::revoke(db, Permit::Rewrite, tenant).await
}

//! Permits past the append-only triggers: a row naming the tenant in
//! `purge_permit` lets events be deleted, one in `rewrite_permit` lets their
//! plaintext copies of personal values be cleared and their search words be
//! rewritten (nothing else). A permit is granted and
//! revoked inside the one transaction that needs it, so no other
//! transaction ever sees it.

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::domain::ids::TenantId;
use crate::error::Result;

#[derive(Clone, Copy, Debug)]
pub enum Permit {
    Purge,
    Rewrite,
}

impl Permit {
    fn table(self) -> &'static str {
        match self {
            Permit::Purge => "purge_permit",
            Permit::Rewrite => "rewrite_permit",
        }
    }
}

fn statement(backend: DbBackend, sql: String, tenant: TenantId) -> Statement {
    let sql = if backend == DbBackend::Postgres { sql.replace('?', "$1") } else { sql };
    Statement::from_sql_and_values(backend, sql, [tenant.0.into()])
}

/// Grants `permit` for `tenant` to the transaction `db`.
pub async fn grant(db: &impl ConnectionTrait, permit: Permit, tenant: TenantId) -> Result<()> {
    let sql = format!("INSERT INTO {} (tenant_id) VALUES (?)", permit.table());
    db.execute_raw(statement(db.get_database_backend(), sql, tenant)).await?;
    Ok(())
}

/// Revokes it, before the transaction commits.
pub async fn revoke(db: &impl ConnectionTrait, permit: Permit, tenant: TenantId) -> Result<()> {
    let sql = format!("DELETE FROM {} WHERE tenant_id = ?", permit.table());
    db.execute_raw(statement(db.get_database_backend(), sql, tenant)).await?;
    Ok(())
}

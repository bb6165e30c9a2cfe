//! Witnesses (`c2sp.org/tlog-witness`): the cosignatures each witness
//! returned for a tenant's persisted checkpoints (kept append-only, like the
//! checkpoints they vouch for), and the size each witness last cosigned of
//! each tenant's log (where its next submission starts from).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES_UP: &str = r#"
CREATE TABLE ledger_cosignature (tenant_id uuid NOT NULL, size bigint NOT NULL, witness text NOT NULL,
                                 signature text NOT NULL, cosigned_at timestamptz NOT NULL,
                                 PRIMARY KEY (tenant_id, size, witness));
CREATE TRIGGER ledger_cosignature_append_only BEFORE UPDATE OR DELETE ON ledger_cosignature
  FOR EACH ROW EXECUTE FUNCTION auditgraph_append_only();
CREATE TABLE witness_position (witness text NOT NULL, tenant_id uuid NOT NULL, size bigint NOT NULL,
                               updated_at timestamptz NOT NULL, PRIMARY KEY (witness, tenant_id));
"#;

const SQLITE_UP: &[&str] = &[
    "CREATE TABLE ledger_cosignature (tenant_id uuid_text NOT NULL, size INTEGER NOT NULL, witness TEXT NOT NULL,
                                      signature TEXT NOT NULL, cosigned_at timestamp_with_timezone_text NOT NULL,
                                      PRIMARY KEY (tenant_id, size, witness))",
    "CREATE TRIGGER ledger_cosignature_no_update BEFORE UPDATE ON ledger_cosignature
     BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: UPDATE on ledger_cosignature refused'); END",
    "CREATE TRIGGER ledger_cosignature_no_delete BEFORE DELETE ON ledger_cosignature
     BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: DELETE on ledger_cosignature refused'); END",
    "CREATE TABLE witness_position (witness TEXT NOT NULL, tenant_id uuid_text NOT NULL, size INTEGER NOT NULL,
                                    updated_at timestamp_with_timezone_text NOT NULL, PRIMARY KEY (witness, tenant_id))",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        match m.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(POSTGRES_UP).await?;
            }
            _ => {
                db.execute_unprepared(&SQLITE_UP.join(";\n")).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        for table in ["witness_position", "ledger_cosignature"] {
            db.execute_unprepared(&format!("DROP TABLE {table}")).await?;
        }
        Ok(())
    }
}

//! Audit events are append-only in the database itself: triggers refuse
//! `UPDATE` and `DELETE` (and `TRUNCATE` on PostgreSQL) of events and their
//! resource links, whoever connects. A future retention job will go through
//! one explicit, audited function instead.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: [&str; 2] = ["audit_event", "event_resource"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        match m.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE FUNCTION auditgraph_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                     BEGIN
                         RAISE EXCEPTION 'audit events are append-only: % on % refused', TG_OP, TG_TABLE_NAME
                             USING ERRCODE = 'insufficient_privilege';
                     END $$",
                )
                .await?;
                for table in TABLES {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
                             FOR EACH ROW EXECUTE FUNCTION auditgraph_append_only();
                         CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
                             FOR EACH STATEMENT EXECUTE FUNCTION auditgraph_append_only();"
                    ))
                    .await?;
                }
            }
            _ => {
                for table in TABLES {
                    for op in ["UPDATE", "DELETE"] {
                        db.execute_unprepared(&format!(
                            "CREATE TRIGGER {table}_no_{lower} BEFORE {op} ON {table}
                             BEGIN SELECT RAISE(ABORT, 'audit events are append-only: {op} on {table} refused'); END",
                            lower = op.to_lowercase()
                        ))
                        .await?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        match m.get_database_backend() {
            DbBackend::Postgres => {
                for table in TABLES {
                    db.execute_unprepared(&format!(
                        "DROP TRIGGER {table}_append_only ON {table}; DROP TRIGGER {table}_no_truncate ON {table};"
                    ))
                    .await?;
                }
                db.execute_unprepared("DROP FUNCTION auditgraph_append_only()").await?;
            }
            _ => {
                for table in TABLES {
                    for op in ["update", "delete"] {
                        db.execute_unprepared(&format!("DROP TRIGGER {table}_no_{op}")).await?;
                    }
                }
            }
        }
        Ok(())
    }
}

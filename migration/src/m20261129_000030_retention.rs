//! Retention and legal hold: per-tenant days and hold, how far the tenant's
//! log was purged, and the one privileged way events leave the database. The
//! append-only triggers refuse `DELETE` unless the deleting transaction holds
//! a row in `purge_permit` (inserted and removed inside the purge's own
//! transaction, so no other transaction ever sees it).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES_UP: &str = r#"
ALTER TABLE tenant ADD COLUMN retention_days integer, ADD COLUMN legal_hold boolean NOT NULL DEFAULT false,
                   ADD COLUMN purged_through bigint NOT NULL DEFAULT 0;
CREATE TABLE purge_permit (tenant_id uuid PRIMARY KEY);
CREATE FUNCTION auditgraph_delete_with_permit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM purge_permit WHERE tenant_id = OLD.tenant_id) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit events are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
DROP TRIGGER audit_event_append_only ON audit_event;
DROP TRIGGER event_resource_append_only ON event_resource;
CREATE TRIGGER audit_event_append_only BEFORE UPDATE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION auditgraph_append_only();
CREATE TRIGGER event_resource_append_only BEFORE UPDATE ON event_resource
    FOR EACH ROW EXECUTE FUNCTION auditgraph_append_only();
CREATE TRIGGER audit_event_delete_with_permit BEFORE DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION auditgraph_delete_with_permit();
CREATE TRIGGER event_resource_delete_with_permit BEFORE DELETE ON event_resource
    FOR EACH ROW EXECUTE FUNCTION auditgraph_delete_with_permit();
"#;

const SQLITE_UP: &[&str] = &[
    "ALTER TABLE tenant ADD COLUMN retention_days integer",
    "ALTER TABLE tenant ADD COLUMN legal_hold boolean NOT NULL DEFAULT false",
    "ALTER TABLE tenant ADD COLUMN purged_through integer NOT NULL DEFAULT 0",
    "CREATE TABLE purge_permit (tenant_id uuid_text PRIMARY KEY NOT NULL)",
    "DROP TRIGGER audit_event_no_delete",
    "DROP TRIGGER event_resource_no_delete",
    "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
       WHEN NOT EXISTS (SELECT 1 FROM purge_permit WHERE tenant_id = OLD.tenant_id)
     BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE on audit_event refused'); END",
    "CREATE TRIGGER event_resource_no_delete BEFORE DELETE ON event_resource
       WHEN NOT EXISTS (SELECT 1 FROM purge_permit WHERE tenant_id = OLD.tenant_id)
     BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE on event_resource refused'); END",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        match m.get_database_backend() {
            DbBackend::Postgres => db.execute_unprepared(POSTGRES_UP).await.map(|_| ()),
            // One script on one connection (see the ledger migration).
            _ => db.execute_unprepared(&SQLITE_UP.join(";\n")).await.map(|_| ()),
        }
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("retention cannot be undone: purged events are gone".into()))
    }
}

//! Erasure by crypto-shredding (API.md Part 3): each actor's data key,
//! wrapped by the server's master key (`data_key`); the master key's
//! fingerprint, and the key itself when the operator gave none
//! (`data_master`); and the one update the append-only events allow: under a
//! row in `rewrite_permit` (held only by the rewriting transaction), the
//! plaintext copies of personal values kept for filters (`request_ip`,
//! `request_user_agent`) may be cleared and the search words rewritten.
//! Nothing a leaf holds can change.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns a rewrite may change: the two cleared, the words rewritten.
const SCRUBBED: [&str; 3] = ["request_ip", "request_user_agent", "search_words"];

const POSTGRES_UP: &str = r#"
CREATE TABLE data_key (actor_id uuid PRIMARY KEY, tenant_id uuid NOT NULL, wrapped text NOT NULL,
                       created_at timestamptz NOT NULL);
CREATE TABLE data_master (id integer PRIMARY KEY, fingerprint text NOT NULL, stored_key text,
                          created_at timestamptz NOT NULL);
CREATE TABLE rewrite_permit (tenant_id uuid PRIMARY KEY);
CREATE FUNCTION auditgraph_update_with_permit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM rewrite_permit WHERE tenant_id = OLD.tenant_id)
       AND (NEW.request_ip IS NULL OR NEW.request_ip = OLD.request_ip)
       AND (NEW.request_user_agent IS NULL OR NEW.request_user_agent = OLD.request_user_agent)
       AND to_jsonb(NEW) - '{request_ip,request_user_agent,search_words}'::text[]
           = to_jsonb(OLD) - '{request_ip,request_user_agent,search_words}'::text[] THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit events are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
DROP TRIGGER audit_event_append_only ON audit_event;
CREATE TRIGGER audit_event_append_only BEFORE UPDATE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION auditgraph_update_with_permit();
"#;

const SQLITE_UP: &[&str] = &[
    "CREATE TABLE data_key (actor_id uuid_text PRIMARY KEY NOT NULL, tenant_id uuid_text NOT NULL,
                            wrapped TEXT NOT NULL, created_at timestamp_with_timezone_text NOT NULL)",
    "CREATE TABLE data_master (id INTEGER PRIMARY KEY NOT NULL, fingerprint TEXT NOT NULL, stored_key TEXT,
                               created_at timestamp_with_timezone_text NOT NULL)",
    "CREATE TABLE rewrite_permit (tenant_id uuid_text PRIMARY KEY NOT NULL)",
    "DROP TRIGGER audit_event_no_update",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        match m.get_database_backend() {
            DbBackend::Postgres => db.execute_unprepared(POSTGRES_UP).await.map(|_| ()),
            backend => {
                // SQLite has no row comparison in a trigger: every other
                // column, as the table has them now, is named.
                let columns = db
                    .query_all_raw(Statement::from_string(backend, "SELECT name FROM pragma_table_info('audit_event')"))
                    .await?
                    .iter()
                    .map(|row| row.try_get::<String>("", "name"))
                    .collect::<Result<Vec<_>, _>>()?;
                let unchanged: Vec<String> = columns
                    .iter()
                    .filter(|c| !SCRUBBED.contains(&c.as_str()))
                    .map(|c| format!("NEW.{c} IS NOT OLD.{c}"))
                    .collect();
                let trigger = format!(
                    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
                       WHEN NOT EXISTS (SELECT 1 FROM rewrite_permit WHERE tenant_id = OLD.tenant_id)
                         OR (NEW.request_ip IS NOT NULL AND NEW.request_ip IS NOT OLD.request_ip)
                         OR (NEW.request_user_agent IS NOT NULL AND NEW.request_user_agent IS NOT OLD.request_user_agent)
                         OR {}
                     BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE on audit_event refused'); END",
                    unchanged.join(" OR ")
                );
                let script = [SQLITE_UP.join(";\n"), trigger].join(";\n");
                db.execute_unprepared(&script).await.map(|_| ())
            }
        }
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        // Destroyed data keys cannot come back, and neither can what they sealed.
        Err(DbErr::Migration("erasure cannot be undone".into()))
    }
}

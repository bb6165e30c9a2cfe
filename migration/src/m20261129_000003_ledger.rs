//! The provable log: every event gets its tenant's `sequence` (1, 2, 3, … in
//! commit order) and a copy of the actor and resources as it was sent
//! (`recorded`); each tenant gets a Merkle tree (`ledger_head`, `ledger_hash`),
//! persisted signed checkpoints, and the server's generated signing key when
//! the operator gives none.
//!
//! Existing events are numbered in `(received_at, id)` order and their
//! snapshot is taken from the current actor and resource rows (the best record
//! there is of them); their tree is built by the server at its next start.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES_UP: &str = r#"
ALTER TABLE audit_event ADD COLUMN sequence BIGINT, ADD COLUMN recorded JSONB;
ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only;
UPDATE audit_event e SET sequence = s.n
  FROM (SELECT id, row_number() OVER (PARTITION BY tenant_id ORDER BY received_at, id) AS n FROM audit_event) s
 WHERE e.id = s.id;
UPDATE audit_event e SET recorded = jsonb_build_object(
  'actor', (SELECT jsonb_build_object('type', a.type, 'externalId', a.external_id, 'displayName', a.display_name,
                                      'email', a.email, 'roles', a.roles) FROM actor a WHERE a.id = e.actor_id),
  'resource', (SELECT jsonb_build_object('type', r.type, 'externalId', r.external_id, 'name', r.name)
                 FROM resource r WHERE r.id = e.resource_id),
  'relatedResources', COALESCE((SELECT jsonb_agg(jsonb_build_object('type', r.type, 'externalId', r.external_id,
                                                                    'name', r.name) ORDER BY l.position)
                                  FROM event_resource l JOIN resource r ON r.id = l.resource_id
                                 WHERE l.event_id = e.id AND l.position > 0), '[]'::jsonb));
ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only;
ALTER TABLE audit_event ALTER COLUMN sequence SET NOT NULL, ALTER COLUMN recorded SET NOT NULL;
CREATE UNIQUE INDEX ux_event_sequence ON audit_event (tenant_id, sequence);

CREATE TABLE ledger_head (tenant_id uuid PRIMARY KEY, size bigint NOT NULL, frontier bytea NOT NULL,
                          updated_at timestamptz NOT NULL);
INSERT INTO ledger_head SELECT id, 0, ''::bytea, now() FROM tenant;
CREATE TABLE ledger_hash (tenant_id uuid NOT NULL, idx bigint NOT NULL, hash bytea NOT NULL,
                          PRIMARY KEY (tenant_id, idx));
CREATE TABLE ledger_checkpoint (tenant_id uuid NOT NULL, size bigint NOT NULL, root_hash bytea NOT NULL,
                                signed_note text NOT NULL, issued_at timestamptz NOT NULL,
                                PRIMARY KEY (tenant_id, size));
CREATE TABLE signing_key (name text PRIMARY KEY, private_key text NOT NULL, created_at timestamptz NOT NULL);
CREATE TRIGGER ledger_hash_append_only BEFORE UPDATE OR DELETE ON ledger_hash
  FOR EACH ROW EXECUTE FUNCTION auditgraph_append_only();
CREATE TRIGGER ledger_checkpoint_append_only BEFORE UPDATE OR DELETE ON ledger_checkpoint
  FOR EACH ROW EXECUTE FUNCTION auditgraph_append_only();
"#;

const SQLITE_UP: &[&str] = &[
    "ALTER TABLE audit_event ADD COLUMN sequence INTEGER",
    "ALTER TABLE audit_event ADD COLUMN recorded TEXT",
    "DROP TRIGGER audit_event_no_update",
    "UPDATE audit_event SET sequence = s.n
       FROM (SELECT id, row_number() OVER (PARTITION BY tenant_id ORDER BY received_at, id) AS n FROM audit_event) s
      WHERE audit_event.id = s.id",
    "UPDATE audit_event SET recorded = json_object(
       'actor', (SELECT json_object('type', a.type, 'externalId', a.external_id, 'displayName', a.display_name,
                                    'email', a.email, 'roles', json(a.roles)) FROM actor a WHERE a.id = audit_event.actor_id),
       'resource', (SELECT json_object('type', r.type, 'externalId', r.external_id, 'name', r.name)
                      FROM resource r WHERE r.id = audit_event.resource_id),
       'relatedResources', (SELECT json_group_array(json(x)) FROM (
           SELECT json_object('type', r.type, 'externalId', r.external_id, 'name', r.name) AS x
             FROM event_resource l JOIN resource r ON r.id = l.resource_id
            WHERE l.event_id = audit_event.id AND l.position > 0 ORDER BY l.position)))",
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
     BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE on audit_event refused'); END",
    "CREATE UNIQUE INDEX ux_event_sequence ON audit_event (tenant_id, sequence)",
    "CREATE TABLE ledger_head (tenant_id uuid_text PRIMARY KEY NOT NULL, size INTEGER NOT NULL,
                               frontier BLOB NOT NULL, updated_at timestamp_with_timezone_text NOT NULL)",
    "INSERT INTO ledger_head SELECT id, 0, x'', strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now') FROM tenant",
    "CREATE TABLE ledger_hash (tenant_id uuid_text NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,
                               PRIMARY KEY (tenant_id, idx))",
    "CREATE TABLE ledger_checkpoint (tenant_id uuid_text NOT NULL, size INTEGER NOT NULL, root_hash BLOB NOT NULL,
                                     signed_note TEXT NOT NULL, issued_at timestamp_with_timezone_text NOT NULL,
                                     PRIMARY KEY (tenant_id, size))",
    "CREATE TABLE signing_key (name TEXT PRIMARY KEY NOT NULL, private_key TEXT NOT NULL,
                               created_at timestamp_with_timezone_text NOT NULL)",
    "CREATE TRIGGER ledger_hash_no_update BEFORE UPDATE ON ledger_hash
     BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: UPDATE on ledger_hash refused'); END",
    "CREATE TRIGGER ledger_hash_no_delete BEFORE DELETE ON ledger_hash
     BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: DELETE on ledger_hash refused'); END",
    "CREATE TRIGGER ledger_checkpoint_no_update BEFORE UPDATE ON ledger_checkpoint
     BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: UPDATE on ledger_checkpoint refused'); END",
    "CREATE TRIGGER ledger_checkpoint_no_delete BEFORE DELETE ON ledger_checkpoint
     BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: DELETE on ledger_checkpoint refused'); END",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        match m.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(POSTGRES_UP).await?;
            }
            // One script on one connection: a pooled connection that ran the
            // `DROP TRIGGER` must be the one that recreates it.
            _ => {
                db.execute_unprepared(&SQLITE_UP.join(";\n")).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        for table in ["signing_key", "ledger_checkpoint", "ledger_hash", "ledger_head"] {
            db.execute_unprepared(&format!("DROP TABLE {table}")).await?;
        }
        db.execute_unprepared("DROP INDEX ux_event_sequence").await?;
        match m.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared("ALTER TABLE audit_event DROP COLUMN sequence, DROP COLUMN recorded").await?;
            }
            _ => {
                db.execute_unprepared("ALTER TABLE audit_event DROP COLUMN sequence").await?;
                db.execute_unprepared("ALTER TABLE audit_event DROP COLUMN recorded").await?;
            }
        }
        Ok(())
    }
}

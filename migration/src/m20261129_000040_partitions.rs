//! Time partitions on PostgreSQL (SQLite is unchanged): `audit_event` and
//! `event_resource` become tables partitioned by calendar month (UTC) of
//! `received_at`, so that retention can drop a whole month instead of deleting
//! its rows one by one, and pages bounded in `receivedAt` read only the months
//! they cover. The links carry a copy of their event's `received_at`, so an
//! event and its links always live in the month of the same name.
//!
//! Partitions are made by one function, `auditgraph_ensure_partition(instant)`,
//! used here for the months that hold rows, by the server ahead of time, and by
//! every recording transaction for its own month (a no-op unless the month is
//! missing): there is no DEFAULT partition, because with one PostgreSQL refuses
//! `DETACH PARTITION … CONCURRENTLY`, and the purge must never block ingest.
//!
//! # Uniqueness without global unique indexes
//!
//! A unique index on a partitioned table must contain the partition key, so
//! the three unique indexes of the plain tables cannot stay as they were:
//!
//! - `id`: the primary key becomes `(id, received_at)` (a key for logical
//!   replication, and the index that serves look-ups by ID in every month).
//!   The ID itself stays unique because only the server makes IDs: a UUIDv7
//!   generated per stored event (48 bits of milliseconds and 74 random bits),
//!   never taken from a caller; no code path inserts an ID twice.
//! - `(tenant_id, sequence)` (was `ux_event_sequence`): a tenant's sequence
//!   numbers are assigned only inside `record_in`, after `SELECT … FOR UPDATE`
//!   of the tenant's `ledger_head` row, as `size + 1, size + 2, …`, and the
//!   same transaction stores the grown size before it commits. A second
//!   writer of the tenant waits for that row lock and, under READ COMMITTED,
//!   then reads the row as committed, so it numbers after the first; a writer
//!   that rolls back leaves the size as it was. The tree refuses a row whose
//!   sequence is not `size + 1` (`append_events`). Sequences never go back:
//!   a purge removes a prefix and leaves `ledger_head.size` alone. So the pair
//!   is unique by construction; it keeps a plain index, `ix_event_sequence`.
//! - `(tenant_id, idempotency_key)` (was `ux_event_idempotency`): the keys of
//!   a batch are read before the batch and read again once the head lock is
//!   held; every insert of the tenant holds that lock, so any batch that
//!   stored the same key has committed by then and is seen, and repeats
//!   within a batch are folded into their first. Inserts therefore no longer
//!   need `ON CONFLICT`; the key keeps a plain partial index for the look-ups.
//!
//! A unique index that adds `received_at` to these would promise nothing more
//! (all of a batch shares one `received_at`, different batches have different
//! ones), so none is kept besides the primary keys. No foreign key references
//! either table, and they reference none.
//!
//! The conversion runs in the migration's transaction, under the advisory lock
//! migrations take: new partitioned tables, a partition for every month that
//! holds rows, the rows moved, the old tables dropped, then the indexes, the
//! append-only triggers (row triggers on a partitioned table apply to every
//! partition, present and future; `TRUNCATE` triggers do not, so each
//! partition gets its own) and fresh planner statistics.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES_UP: &str = r#"
-- Makes (or re-attaches) the month of `instant` in both tables. Cheap when it
-- exists: two catalog look-ups. Concurrent callers serialise on a transaction
-- advisory lock ("audparts"); the new tables are attached, which takes only a
-- SHARE UPDATE EXCLUSIVE lock on the parents, so writers of other months go on.
CREATE FUNCTION auditgraph_ensure_partition(instant timestamptz) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    month_start timestamp := date_trunc('month', instant AT TIME ZONE 'UTC');
    suffix text := to_char(month_start, 'YYYY_MM');
    parent text;
    part text;
BEGIN
    IF (SELECT count(*) FROM pg_inherits
         WHERE inhrelid IN (to_regclass('audit_event_p' || suffix), to_regclass('event_resource_p' || suffix))
           AND NOT inhdetachpending) = 2 THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(7022629627788162163);
    FOREACH parent IN ARRAY ARRAY['audit_event', 'event_resource'] LOOP
        part := parent || '_p' || suffix;
        IF to_regclass(part) IS NULL THEN
            EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING STORAGE)', part, parent);
            EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT
                                EXECUTE FUNCTION auditgraph_append_only()', part || '_no_truncate', part);
        END IF;
        -- A table detached by a purge that stopped before dropping it is put
        -- back: nothing is lost, and the next purge decides again.
        IF NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass(part)) THEN
            EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', parent, part,
                           month_start AT TIME ZONE 'UTC', (month_start + interval '1 month') AT TIME ZONE 'UTC');
        END IF;
    END LOOP;
END $$;

ALTER TABLE audit_event RENAME TO audit_event_unpartitioned;
ALTER TABLE event_resource RENAME TO event_resource_unpartitioned;
CREATE TABLE audit_event (LIKE audit_event_unpartitioned INCLUDING DEFAULTS INCLUDING STORAGE)
    PARTITION BY RANGE (received_at);
CREATE TABLE event_resource (LIKE event_resource_unpartitioned INCLUDING DEFAULTS INCLUDING STORAGE,
                             received_at timestamptz NOT NULL)
    PARTITION BY RANGE (received_at);

SELECT auditgraph_ensure_partition(month)
  FROM (SELECT DISTINCT date_trunc('month', received_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS month
          FROM audit_event_unpartitioned) months;
SELECT auditgraph_ensure_partition(now());

INSERT INTO audit_event SELECT * FROM audit_event_unpartitioned;
INSERT INTO event_resource
     SELECT l.*, e.received_at FROM event_resource_unpartitioned l JOIN audit_event_unpartitioned e ON e.id = l.event_id;
DO $$
BEGIN
    IF (SELECT count(*) FROM event_resource) <> (SELECT count(*) FROM event_resource_unpartitioned) THEN
        RAISE EXCEPTION 'some resource links have no event: the tables were left as they were';
    END IF;
END $$;
DROP TABLE event_resource_unpartitioned, audit_event_unpartitioned;

-- Built once over the moved rows rather than row by row while moving them.
ALTER TABLE audit_event ADD CONSTRAINT audit_event_pkey PRIMARY KEY (id, received_at);
CREATE INDEX ix_event_occurred ON audit_event (tenant_id, occurred_at, id);
CREATE INDEX ix_event_received ON audit_event (tenant_id, received_at, id);
CREATE INDEX ix_event_action ON audit_event (tenant_id, action, occurred_at);
CREATE INDEX ix_event_category ON audit_event (tenant_id, category, occurred_at);
CREATE INDEX ix_event_actor ON audit_event (tenant_id, actor_id, occurred_at);
CREATE INDEX ix_event_resource ON audit_event (tenant_id, resource_id, occurred_at);
CREATE INDEX ix_event_correlation ON audit_event (tenant_id, correlation_id);
CREATE INDEX ix_event_request ON audit_event (tenant_id, request_id);
CREATE INDEX ix_event_sequence ON audit_event (tenant_id, sequence);
CREATE INDEX ix_event_idempotency ON audit_event (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
ALTER TABLE event_resource ADD CONSTRAINT event_resource_pkey PRIMARY KEY (event_id, position, received_at);
CREATE INDEX ix_event_resource_resource ON event_resource (tenant_id, resource_id, event_id);
"#;

/// The append-only triggers of the plain tables, on a partitioned one (each
/// partition also has its own `TRUNCATE` trigger, made with it).
fn triggers(table: &str) -> String {
    format!(
        "CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table}
             FOR EACH ROW EXECUTE FUNCTION auditgraph_append_only();
         CREATE TRIGGER {table}_delete_with_permit BEFORE DELETE ON {table}
             FOR EACH ROW EXECUTE FUNCTION auditgraph_delete_with_permit();
         CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
             FOR EACH STATEMENT EXECUTE FUNCTION auditgraph_append_only();"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        match m.get_database_backend() {
            DbBackend::Postgres => {
                let script = [POSTGRES_UP.to_string(), triggers("audit_event"), triggers("event_resource")];
                let script = script.join("\n") + "\nANALYZE audit_event, event_resource;";
                m.get_connection().execute_unprepared(&script).await.map(|_| ())
            }
            _ => Ok(()),
        }
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        // The migration before this one cannot be undone either (purged events are gone).
        Err(DbErr::Migration("time partitions are not undone; restore a backup taken before the upgrade".into()))
    }
}

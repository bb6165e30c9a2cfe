//! `auditgraph_ensure_partition` made safe for concurrent callers of a month
//! that does not exist yet (PostgreSQL only).
//!
//! The first version serialised callers on a transaction advisory lock, then
//! asked the catalog whether the month's tables existed. A caller that waited
//! for the lock while another made the month still saw the catalog as it was
//! before: taking an advisory lock does not make a backend read the catalog
//! changes others committed meanwhile (taking a lock on a relation does), so
//! it tried to create the tables again and its whole recording failed with
//! "relation already exists". Several writers crossing into a month together
//! (`seed --backdate`, or a clock past the months made ahead) hit it.
//!
//! Callers now serialise on a SHARE UPDATE EXCLUSIVE lock of `audit_event`
//! itself: the lock `ATTACH PARTITION` takes there anyway, which ordinary
//! writers (ROW EXCLUSIVE) do not wait for, and a relation lock, so the
//! caller that gets it next reads the catalog afresh.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const ENSURE_PARTITION: &str = r#"
CREATE OR REPLACE FUNCTION auditgraph_ensure_partition(instant timestamptz) RETURNS void LANGUAGE plpgsql AS $$
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
    LOCK TABLE audit_event IN SHARE UPDATE EXCLUSIVE MODE;
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
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        match m.get_database_backend() {
            DbBackend::Postgres => m.get_connection().execute_unprepared(ENSURE_PARTITION).await.map(|_| ()),
            _ => Ok(()),
        }
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        // The function before this one had the race; there is nothing to go back to.
        Ok(())
    }
}

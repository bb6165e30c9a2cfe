//! An index of events by outcome in time order, `(tenant_id, outcome,
//! occurred_at, id)`. With the ID, a page of failures in a time range (a
//! console preset) walks it in the page's exact order. It also lets a count
//! by outcome (the console's outcome facet, `auditEventStats` grouped by
//! `OUTCOME`) read the index alone: without it PostgreSQL read every row of a
//! 1,000,000-event tenant for that facet, 1 s against about a third of that
//! for the other facets (BENCHMARKS.md, issue 25). On PostgreSQL the index is
//! made on the partitioned table, so every month has it and each month
//! attached later gets it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared("CREATE INDEX ix_event_outcome ON audit_event (tenant_id, outcome, occurred_at, id)")
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection().execute_unprepared("DROP INDEX ix_event_outcome").await?;
        Ok(())
    }
}

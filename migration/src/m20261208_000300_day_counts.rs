//! Counts of each tenant's events per UTC day of occurrence, by action, by
//! outcome and by actor (`dimension` 0, 1, 2; an actor's key is its ID in
//! 32 lowercase hex digits). Recording adds to them and retention subtracts
//! what it removes, in the same transactions, so stats over whole days (the
//! console's all-time overview) sum a few rows a day instead of reading
//! every event (BENCHMARKS.md, issue 25). Filled here from the events
//! already recorded.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditEventDayCount {
    Table,
    TenantId,
    Dimension,
    Day,
    Key,
    N,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use AuditEventDayCount as C;
        m.create_table(
            Table::create()
                .table(C::Table)
                .col(ColumnDef::new(C::TenantId).uuid().not_null())
                .col(ColumnDef::new(C::Dimension).small_integer().not_null())
                // Epoch seconds of the day's midnight, UTC.
                .col(ColumnDef::new(C::Day).big_integer().not_null())
                .col(ColumnDef::new(C::Key).text().not_null())
                .col(ColumnDef::new(C::N).big_integer().not_null())
                .primary_key(Index::create().col(C::TenantId).col(C::Dimension).col(C::Day).col(C::Key))
                .to_owned(),
        )
        .await?;
        let (day, actor) = match m.get_database_backend() {
            DbBackend::Postgres => (
                "CAST(FLOOR(EXTRACT(EPOCH FROM date_bin('1 day', occurred_at, TIMESTAMPTZ '1970-01-05 00:00:00+00'))) AS BIGINT)",
                "replace(CAST(actor_id AS TEXT), '-', '')",
            ),
            _ => ("CAST(strftime('%s', date(occurred_at)) AS INTEGER)", "lower(hex(actor_id))"),
        };
        let per = |dimension: i16, key: &str| {
            format!("SELECT tenant_id, {dimension}, {day}, {key}, COUNT(*) FROM audit_event GROUP BY 1, 3, 4")
        };
        m.get_connection()
            .execute_unprepared(&format!(
                "INSERT INTO audit_event_day_count (tenant_id, dimension, day, key, n) {} UNION ALL {} UNION ALL {}",
                per(0, "action"),
                per(1, "outcome"),
                per(2, actor),
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AuditEventDayCount::Table).to_owned()).await?;
        Ok(())
    }
}

//! Search: the words of each event (`audit_event.search_words`, filled at
//! record time), event streams' query strings (`event_stream.query`), and on
//! PostgreSQL the indexes that serve `metadata`
//! containment and word look-ups. Events recorded before this step have no
//! words: the `search` filter does not find them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditEvent {
    Table,
    SearchWords,
}

#[derive(DeriveIden)]
enum EventStream {
    Table,
    Query,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(AuditEvent::Table)
                .add_column(ColumnDef::new(AuditEvent::SearchWords).text().not_null().default(""))
                .to_owned(),
        )
        .await?;
        // A stream's query string, compiled at each delivery.
        m.alter_table(
            Table::alter().table(EventStream::Table).add_column(ColumnDef::new(EventStream::Query).text()).to_owned(),
        )
        .await?;
        if m.get_database_backend() == DbBackend::Postgres {
            let db = m.get_connection();
            // `jsonb_path_ops` serves `metadata @> …`, which equality on a
            // path without array indexes also states.
            db.execute_unprepared("CREATE INDEX ix_event_metadata ON audit_event USING gin (metadata jsonb_path_ops)")
                .await?;
            // The words are already the contract's tokens, separated by
            // white space; `simple` keeps each ASCII one as it is.
            db.execute_unprepared(
                "CREATE INDEX ix_event_words ON audit_event USING gin (to_tsvector('simple', search_words))",
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == DbBackend::Postgres {
            let db = m.get_connection();
            db.execute_unprepared("DROP INDEX IF EXISTS ix_event_words").await?;
            db.execute_unprepared("DROP INDEX IF EXISTS ix_event_metadata").await?;
        }
        m.alter_table(Table::alter().table(EventStream::Table).drop_column(EventStream::Query).to_owned()).await?;
        m.alter_table(Table::alter().table(AuditEvent::Table).drop_column(AuditEvent::SearchWords).to_owned()).await
    }
}

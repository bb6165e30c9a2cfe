//! The words' index on SQLite, and the words of events recorded before the
//! search step.
//!
//! SQLite: an external-content FTS5 table over `audit_event.search_words`
//! (`audit_event_words`, keyed by the event's rowid), kept in step by
//! triggers on every change the events allow: recording (insert), the
//! retention purge (delete), and an erasure or the words' backfill (update
//! of `search_words`). Only the token list is kept (`detail=none`: no
//! positions, since a search looks up single tokens and checks phrases on the
//! words themselves), and deletes remove a token from the index at once
//! (`secure-delete`), so an erased word is not left behind in it. The
//! server never runs `VACUUM`, which may renumber rowids; after one,
//! `INSERT INTO audit_event_words(audit_event_words) VALUES('rebuild')`
//! rebuilds the index.
//!
//! Both backends: `word_backfill` lists, per tenant, the range of sequences
//! that still holds events without words (recorded before the search step);
//! the server fills their words in the background and removes each row when
//! its range is done, so a database without such events never scans again.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_UP: &str = r#"
CREATE VIRTUAL TABLE audit_event_words USING fts5(
    search_words, content = 'audit_event', content_rowid = 'rowid', detail = none,
    tokenize = 'unicode61 remove_diacritics 0');
INSERT INTO audit_event_words(audit_event_words, rank) VALUES ('secure-delete', 1);
CREATE TRIGGER audit_event_words_insert AFTER INSERT ON audit_event BEGIN
    INSERT INTO audit_event_words(rowid, search_words) VALUES (NEW.rowid, NEW.search_words);
END;
CREATE TRIGGER audit_event_words_delete AFTER DELETE ON audit_event BEGIN
    INSERT INTO audit_event_words(audit_event_words, rowid, search_words) VALUES ('delete', OLD.rowid, OLD.search_words);
END;
CREATE TRIGGER audit_event_words_update AFTER UPDATE OF search_words ON audit_event BEGIN
    INSERT INTO audit_event_words(audit_event_words, rowid, search_words) VALUES ('delete', OLD.rowid, OLD.search_words);
    INSERT INTO audit_event_words(rowid, search_words) VALUES (NEW.rowid, NEW.search_words);
END;
INSERT INTO audit_event_words(audit_event_words) VALUES ('rebuild');
"#;

const SQLITE_DOWN: &str = r#"
DROP TRIGGER audit_event_words_update;
DROP TRIGGER audit_event_words_delete;
DROP TRIGGER audit_event_words_insert;
DROP TABLE audit_event_words;
"#;

/// Every event without words: an event's words always hold its action, so
/// only an event recorded before the search step has none.
const PENDING: &str = "INSERT INTO word_backfill (tenant_id, next_sequence, last_sequence)
    SELECT tenant_id, MIN(sequence), MAX(sequence) FROM audit_event WHERE search_words = '' GROUP BY tenant_id";

#[derive(DeriveIden)]
enum WordBackfill {
    Table,
    TenantId,
    NextSequence,
    LastSequence,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if m.get_database_backend() == DbBackend::Sqlite {
            db.execute_unprepared(SQLITE_UP).await?;
        }
        m.create_table(
            Table::create()
                .table(WordBackfill::Table)
                .col(ColumnDef::new(WordBackfill::TenantId).uuid().not_null().primary_key())
                .col(ColumnDef::new(WordBackfill::NextSequence).big_integer().not_null())
                .col(ColumnDef::new(WordBackfill::LastSequence).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        db.execute_unprepared(PENDING).await.map(|_| ())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(WordBackfill::Table).to_owned()).await?;
        if m.get_database_backend() == DbBackend::Sqlite {
            m.get_connection().execute_unprepared(SQLITE_DOWN).await?;
        }
        Ok(())
    }
}

//! Migrations of the auditgraph database. Each step runs on SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_initial;
mod m20261123_000002_append_only;
mod m20261129_000003_ledger;
mod m20261129_000010_viewer_tokens;
mod m20261129_000020_event_streams;
mod m20261129_000030_retention;
mod m20261129_000040_partitions;
mod m20261129_000050_partition_race;
mod m20261207_000060_retention_grace;
mod m20261207_000070_search;
mod m20261207_000090_alert_rules;
mod m20261207_000260_witnesses;
mod m20261207_000270_erasure;
mod m20261207_000280_words_index;
mod m20261207_000290_outcome_index;
mod m20261208_000300_day_counts;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_initial::Migration),
            Box::new(m20261123_000002_append_only::Migration),
            Box::new(m20261129_000003_ledger::Migration),
            Box::new(m20261129_000010_viewer_tokens::Migration),
            Box::new(m20261129_000020_event_streams::Migration),
            Box::new(m20261129_000030_retention::Migration),
            Box::new(m20261129_000040_partitions::Migration),
            Box::new(m20261129_000050_partition_race::Migration),
            Box::new(m20261207_000060_retention_grace::Migration),
            Box::new(m20261207_000070_search::Migration),
            Box::new(m20261207_000090_alert_rules::Migration),
            Box::new(m20261207_000260_witnesses::Migration),
            Box::new(m20261207_000270_erasure::Migration),
            Box::new(m20261207_000280_words_index::Migration),
            Box::new(m20261207_000290_outcome_index::Migration),
            Box::new(m20261208_000300_day_counts::Migration),
        ]
    }
}

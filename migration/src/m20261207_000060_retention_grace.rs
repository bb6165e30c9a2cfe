//! The retention grace: every change of a tenant's retention or legal hold
//! is kept with the settings it replaced, so that the purge can apply the
//! most protective setting in force at any moment of the grace period.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RetentionChange {
    Table,
    Id,
    TenantId,
    ChangedAt,
    RetentionDays,
    LegalHold,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(RetentionChange::Table)
                .col(ColumnDef::new(RetentionChange::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(RetentionChange::TenantId).uuid().not_null())
                .col(ColumnDef::new(RetentionChange::ChangedAt).timestamp_with_time_zone().not_null())
                // The settings in force until the change.
                .col(ColumnDef::new(RetentionChange::RetentionDays).integer())
                .col(ColumnDef::new(RetentionChange::LegalHold).boolean().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("retention_change_by_time")
                .table(RetentionChange::Table)
                .col(RetentionChange::ChangedAt)
                .col(RetentionChange::TenantId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(RetentionChange::Table).to_owned()).await
    }
}

//! Alert rules: thresholds on a tenant's live log. A rule's row carries how
//! far along the log it was evaluated and the lease that lets one replica at
//! a time evaluate it; `alert_firing` holds the last firing per rule and key,
//! for cooldowns that survive restarts.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AlertRule {
    Table,
    Id,
    TenantId,
    Name,
    Filter,
    Query,
    Threshold,
    WindowSeconds,
    GroupBy,
    CooldownSeconds,
    Paused,
    EvaluatedSequence,
    LastFiredAt,
    LeaseHolder,
    LeaseUntil,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AlertFiring {
    Table,
    RuleId,
    TenantId,
    Key,
    WindowEnd,
    FiredAt,
}

#[derive(DeriveIden)]
enum Tenant {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(AlertRule::Table)
                .col(ColumnDef::new(AlertRule::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(AlertRule::TenantId).uuid().not_null())
                .col(ColumnDef::new(AlertRule::Name).text().not_null())
                .col(ColumnDef::new(AlertRule::Filter).json_binary().not_null())
                .col(ColumnDef::new(AlertRule::Query).text().null())
                .col(ColumnDef::new(AlertRule::Threshold).integer().not_null())
                .col(ColumnDef::new(AlertRule::WindowSeconds).integer().not_null())
                // A JSON array of dimension names.
                .col(ColumnDef::new(AlertRule::GroupBy).json_binary().not_null())
                .col(ColumnDef::new(AlertRule::CooldownSeconds).integer().not_null())
                .col(ColumnDef::new(AlertRule::Paused).boolean().not_null().default(false))
                .col(ColumnDef::new(AlertRule::EvaluatedSequence).big_integer().not_null().default(0))
                .col(ColumnDef::new(AlertRule::LastFiredAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(AlertRule::LeaseHolder).text().null())
                .col(ColumnDef::new(AlertRule::LeaseUntil).timestamp_with_time_zone().null())
                .col(ColumnDef::new(AlertRule::CreatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(AlertRule::UpdatedAt).timestamp_with_time_zone().not_null())
                .foreign_key(
                    ForeignKey::create().from(AlertRule::Table, AlertRule::TenantId).to(Tenant::Table, Tenant::Id),
                )
                .to_owned(),
        )
        .await?;
        // A tenant's rules, oldest first.
        m.create_index(
            Index::create()
                .name("ix_alert_rule_tenant")
                .table(AlertRule::Table)
                .col(AlertRule::TenantId)
                .col(AlertRule::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(AlertFiring::Table)
                .col(ColumnDef::new(AlertFiring::RuleId).uuid().not_null())
                .col(ColumnDef::new(AlertFiring::TenantId).uuid().not_null())
                // The key as a JSON array of strings and nulls (`[]` without groupBy).
                .col(ColumnDef::new(AlertFiring::Key).text().not_null())
                .col(ColumnDef::new(AlertFiring::WindowEnd).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(AlertFiring::FiredAt).timestamp_with_time_zone().not_null())
                .primary_key(Index::create().col(AlertFiring::RuleId).col(AlertFiring::Key))
                .foreign_key(
                    ForeignKey::create()
                        .from(AlertFiring::Table, AlertFiring::RuleId)
                        .to(AlertRule::Table, AlertRule::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AlertFiring::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(AlertRule::Table).to_owned()).await
    }
}

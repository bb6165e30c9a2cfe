//! Event streams: destinations (a webhook or a Splunk HTTP Event Collector)
//! to which a tenant's matching events are pushed in sequence order. The row
//! carries the delivery position and the lease that lets one replica at a
//! time deliver the stream.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum EventStream {
    Table,
    Id,
    TenantId,
    Name,
    Kind,
    Url,
    Secret,
    SplunkIndex,
    Filter,
    Paused,
    DeliveredSequence,
    LastDeliveredAt,
    LastError,
    FailingSince,
    LeaseHolder,
    LeaseUntil,
    CreatedAt,
    UpdatedAt,
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
                .table(EventStream::Table)
                .col(ColumnDef::new(EventStream::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(EventStream::TenantId).uuid().not_null())
                .col(ColumnDef::new(EventStream::Name).text().not_null())
                .col(ColumnDef::new(EventStream::Kind).text().not_null())
                .col(ColumnDef::new(EventStream::Url).text().not_null())
                // Kept as is: the webhook signing secret or the HEC token is
                // needed to sign or authenticate every delivery.
                .col(ColumnDef::new(EventStream::Secret).text().not_null())
                .col(ColumnDef::new(EventStream::SplunkIndex).text().null())
                .col(ColumnDef::new(EventStream::Filter).json_binary().not_null())
                .col(ColumnDef::new(EventStream::Paused).boolean().not_null().default(false))
                .col(ColumnDef::new(EventStream::DeliveredSequence).big_integer().not_null().default(0))
                .col(ColumnDef::new(EventStream::LastDeliveredAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(EventStream::LastError).text().null())
                .col(ColumnDef::new(EventStream::FailingSince).timestamp_with_time_zone().null())
                .col(ColumnDef::new(EventStream::LeaseHolder).text().null())
                .col(ColumnDef::new(EventStream::LeaseUntil).timestamp_with_time_zone().null())
                .col(ColumnDef::new(EventStream::CreatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(EventStream::UpdatedAt).timestamp_with_time_zone().not_null())
                .foreign_key(
                    ForeignKey::create().from(EventStream::Table, EventStream::TenantId).to(Tenant::Table, Tenant::Id),
                )
                .to_owned(),
        )
        .await?;
        // A tenant's streams, oldest first.
        m.create_index(
            Index::create()
                .name("ix_event_stream_tenant")
                .table(EventStream::Table)
                .col(EventStream::TenantId)
                .col(EventStream::CreatedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(EventStream::Table).to_owned()).await
    }
}

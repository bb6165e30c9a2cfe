//! Viewer tokens: read-only bearer credentials fixed to one tenant and one
//! event filter, minted by an API key and expiring. Only a hash of the secret
//! is kept, as for API keys.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ViewerToken {
    Table,
    Id,
    TenantId,
    ApiKeyId,
    SecretHash,
    Filter,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Tenant {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ApiKey {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ViewerToken::Table)
                .col(ColumnDef::new(ViewerToken::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(ViewerToken::TenantId).uuid().not_null())
                .col(ColumnDef::new(ViewerToken::ApiKeyId).uuid().not_null())
                .col(ColumnDef::new(ViewerToken::SecretHash).text().not_null().unique_key())
                .col(ColumnDef::new(ViewerToken::Filter).json_binary().not_null())
                .col(ColumnDef::new(ViewerToken::CreatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(ViewerToken::ExpiresAt).timestamp_with_time_zone().not_null())
                .foreign_key(
                    ForeignKey::create().from(ViewerToken::Table, ViewerToken::TenantId).to(Tenant::Table, Tenant::Id),
                )
                .foreign_key(
                    ForeignKey::create().from(ViewerToken::Table, ViewerToken::ApiKeyId).to(ApiKey::Table, ApiKey::Id),
                )
                .to_owned(),
        )
        .await?;
        // Which tokens a key minted (they end with it), and which have expired.
        m.create_index(
            Index::create()
                .name("ix_viewer_token_key")
                .table(ViewerToken::Table)
                .col(ViewerToken::ApiKeyId)
                .col(ViewerToken::ExpiresAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ViewerToken::Table).to_owned()).await
    }
}

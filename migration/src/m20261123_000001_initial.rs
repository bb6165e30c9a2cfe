//! Tenants, API keys, actors, resources, audit events and their resource links,
//! with the indexes the read API's filters and orders use.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenant {
    Table,
    Id,
    Slug,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiKey {
    Table,
    Id,
    TenantId,
    Name,
    Prefix,
    SecretHash,
    Scopes,
    CreatedAt,
    RevokedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum Actor {
    Table,
    Id,
    TenantId,
    Type,
    ExternalId,
    DisplayName,
    Email,
    Roles,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Resource {
    Table,
    Id,
    TenantId,
    Type,
    ExternalId,
    Name,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AuditEvent {
    Table,
    Id,
    TenantId,
    Action,
    Category,
    Outcome,
    OccurredAt,
    ReceivedAt,
    ActorId,
    ResourceId,
    Summary,
    Reason,
    ErrorMessage,
    Environment,
    SourceService,
    CorrelationId,
    HasRequest,
    RequestId,
    RequestMethod,
    RequestPath,
    RequestStatus,
    RequestLatencyMs,
    RequestIp,
    RequestUserAgent,
    Metadata,
    Changes,
    IdempotencyKey,
    SearchText,
}

#[derive(DeriveIden)]
enum EventResource {
    Table,
    EventId,
    Position,
    TenantId,
    ResourceId,
}

/// Columns filtered by a literal prefix compare bytewise on PostgreSQL (`COLLATE "C"`),
/// so that `LIKE 'prefix%'` is case-sensitive and served by a plain B-tree index
/// whatever the database's default collation. SQLite compares bytewise already.
fn prefix_text(backend: DbBackend, col: impl IntoIden) -> ColumnDef {
    let mut def = ColumnDef::new(col);
    def.text();
    if backend == DbBackend::Postgres {
        def.extra("COLLATE \"C\"");
    }
    def
}

fn uuid(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).uuid().not_null().to_owned()
}

fn timestamp(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().not_null().to_owned()
}

fn text(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let backend = m.get_database_backend();

        m.create_table(
            Table::create()
                .table(Tenant::Table)
                .col(uuid(Tenant::Id).primary_key())
                .col(text(Tenant::Slug).not_null().unique_key())
                .col(text(Tenant::Name).not_null())
                .col(timestamp(Tenant::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ApiKey::Table)
                .col(uuid(ApiKey::Id).primary_key())
                .col(uuid(ApiKey::TenantId))
                .col(text(ApiKey::Name).not_null())
                .col(text(ApiKey::Prefix).not_null())
                .col(text(ApiKey::SecretHash).not_null().unique_key())
                .col(text(ApiKey::Scopes).not_null())
                .col(timestamp(ApiKey::CreatedAt))
                .col(ColumnDef::new(ApiKey::RevokedAt).timestamp_with_time_zone())
                .col(ColumnDef::new(ApiKey::LastUsedAt).timestamp_with_time_zone())
                .foreign_key(ForeignKey::create().from(ApiKey::Table, ApiKey::TenantId).to(Tenant::Table, Tenant::Id))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_api_key_tenant")
                .table(ApiKey::Table)
                .col(ApiKey::TenantId)
                .col(ApiKey::CreatedAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Actor::Table)
                .col(uuid(Actor::Id).primary_key())
                .col(uuid(Actor::TenantId))
                .col(text(Actor::Type).not_null())
                .col(text(Actor::ExternalId).not_null())
                .col(text(Actor::DisplayName))
                .col(text(Actor::Email))
                .col(ColumnDef::new(Actor::Roles).json_binary())
                .col(timestamp(Actor::CreatedAt))
                .col(timestamp(Actor::UpdatedAt))
                .foreign_key(ForeignKey::create().from(Actor::Table, Actor::TenantId).to(Tenant::Table, Tenant::Id))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_actor_identity")
                .table(Actor::Table)
                .unique()
                .col(Actor::TenantId)
                .col(Actor::Type)
                .col(Actor::ExternalId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_actor_external_id")
                .table(Actor::Table)
                .col(Actor::TenantId)
                .col(Actor::ExternalId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_actor_email")
                .table(Actor::Table)
                .col(Actor::TenantId)
                .col(Actor::Email)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Resource::Table)
                .col(uuid(Resource::Id).primary_key())
                .col(uuid(Resource::TenantId))
                .col(text(Resource::Type).not_null())
                .col(text(Resource::ExternalId).not_null())
                .col(text(Resource::Name))
                .col(timestamp(Resource::CreatedAt))
                .col(timestamp(Resource::UpdatedAt))
                .foreign_key(
                    ForeignKey::create().from(Resource::Table, Resource::TenantId).to(Tenant::Table, Tenant::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_resource_identity")
                .table(Resource::Table)
                .unique()
                .col(Resource::TenantId)
                .col(Resource::Type)
                .col(Resource::ExternalId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_resource_external_id")
                .table(Resource::Table)
                .col(Resource::TenantId)
                .col(Resource::ExternalId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(AuditEvent::Table)
                .col(uuid(AuditEvent::Id).primary_key())
                .col(uuid(AuditEvent::TenantId))
                .col(prefix_text(backend, AuditEvent::Action).not_null())
                .col(prefix_text(backend, AuditEvent::Category).not_null())
                .col(text(AuditEvent::Outcome).not_null())
                .col(timestamp(AuditEvent::OccurredAt))
                .col(timestamp(AuditEvent::ReceivedAt))
                .col(uuid(AuditEvent::ActorId))
                .col(ColumnDef::new(AuditEvent::ResourceId).uuid())
                .col(text(AuditEvent::Summary))
                .col(text(AuditEvent::Reason))
                .col(text(AuditEvent::ErrorMessage))
                .col(prefix_text(backend, AuditEvent::Environment))
                .col(prefix_text(backend, AuditEvent::SourceService))
                .col(text(AuditEvent::CorrelationId))
                .col(ColumnDef::new(AuditEvent::HasRequest).boolean().not_null())
                .col(text(AuditEvent::RequestId))
                .col(text(AuditEvent::RequestMethod))
                .col(text(AuditEvent::RequestPath))
                .col(ColumnDef::new(AuditEvent::RequestStatus).integer())
                .col(ColumnDef::new(AuditEvent::RequestLatencyMs).double())
                .col(text(AuditEvent::RequestIp))
                .col(text(AuditEvent::RequestUserAgent))
                .col(ColumnDef::new(AuditEvent::Metadata).json_binary().not_null())
                .col(ColumnDef::new(AuditEvent::Changes).json_binary().not_null())
                .col(text(AuditEvent::IdempotencyKey))
                .col(text(AuditEvent::SearchText).not_null())
                // No foreign keys on the two ingest tables: their per-row checks
                // doubled the time to store a batch (measured on PostgreSQL),
                // and the one code path that writes here upserts the tenant's
                // actors and resources first, in the same transaction.
                .to_owned(),
        )
        .await?;

        // Keyset pages: (tenant, sort key, id), scanned in either direction.
        for (name, cols) in [
            ("ix_event_occurred", vec![AuditEvent::OccurredAt, AuditEvent::Id]),
            ("ix_event_received", vec![AuditEvent::ReceivedAt, AuditEvent::Id]),
            ("ix_event_action", vec![AuditEvent::Action, AuditEvent::OccurredAt]),
            ("ix_event_category", vec![AuditEvent::Category, AuditEvent::OccurredAt]),
            ("ix_event_actor", vec![AuditEvent::ActorId, AuditEvent::OccurredAt]),
            ("ix_event_resource", vec![AuditEvent::ResourceId, AuditEvent::OccurredAt]),
            ("ix_event_correlation", vec![AuditEvent::CorrelationId]),
            ("ix_event_request", vec![AuditEvent::RequestId]),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(AuditEvent::Table).col(AuditEvent::TenantId);
            for col in cols {
                idx.col(col);
            }
            m.create_index(idx.to_owned()).await?;
        }
        m.create_index(
            Index::create()
                .name("ux_event_idempotency")
                .table(AuditEvent::Table)
                .unique()
                .col(AuditEvent::TenantId)
                .col(AuditEvent::IdempotencyKey)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(EventResource::Table)
                .col(uuid(EventResource::EventId))
                .col(ColumnDef::new(EventResource::Position).small_integer().not_null())
                .col(uuid(EventResource::TenantId))
                .col(uuid(EventResource::ResourceId))
                .primary_key(Index::create().col(EventResource::EventId).col(EventResource::Position))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_event_resource_resource")
                .table(EventResource::Table)
                .col(EventResource::TenantId)
                .col(EventResource::ResourceId)
                .col(EventResource::EventId)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            EventResource::Table.into_iden(),
            AuditEvent::Table.into_iden(),
            Resource::Table.into_iden(),
            Actor::Table.into_iden(),
            ApiKey::Table.into_iden(),
            Tenant::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

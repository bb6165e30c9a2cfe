//! The `Mutation` root.

use async_graphql::{Context, ID, Object, SimpleObject};

use super::context::ContextExt;
use super::event::AuditEvent;
use super::event_input::AuditEventInput;
use super::event_stream::{
    self, CreateEventStreamInput, CreateEventStreamPayload, DeleteEventStreamPayload, EventStream,
    UpdateEventStreamInput,
};
use super::key::{
    ApiKey, CreateApiKeyInput, CreateApiKeyPayload, CreateTenantInput, CreateTenantPayload, RevokeApiKeyPayload,
    SetTenantRetentionInput, Tenant, scopes_of,
};
use super::viewer_token::{self, CreateViewerTokenInput, ViewerToken};
use crate::domain::ids::ApiKeyId;
use crate::domain::scope::Scope;
use crate::service;
use crate::service::self_audit::Acting;

/// The stored events of a recording.
#[derive(SimpleObject)]
pub struct RecordAuditEventsPayload {
    /// The stored event of every input, in input order (a duplicate shows the event stored first).
    pub events: Vec<AuditEvent>,
    /// Events this call stored.
    pub created_count: i32,
    /// Inputs whose idempotency key was already used: nothing new was stored for them.
    pub duplicate_count: i32,
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Records 1 to 1,000 events atomically: all are stored or none. An
    /// `idempotencyKey` already used in the tenant returns the stored event.
    /// Needs `audit.write`.
    async fn record_audit_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The events, 1 to 1,000, validated before anything is stored.")] events: Vec<AuditEventInput>,
    ) -> async_graphql::Result<RecordAuditEventsPayload> {
        let tenant = ctx.require(Scope::AuditWrite)?.tenant;
        let specs = events.into_iter().map(Into::into).collect();
        let batch = crate::domain::event_spec::validate_batch(specs, "events", crate::domain::now())?;
        let total = batch.len();
        let recorded = crate::service::events::record(ctx.services(), tenant, batch).await?;
        // What this request wrote may not have reached a replica yet.
        ctx.reader().pin_primary();
        ctx.loaders()
            .prefetch(&recorded.events, &[ctx.look_ahead().field("events")], Default::default())
            .await
            .map_err(super::error::shared)?;
        Ok(RecordAuditEventsPayload {
            created_count: recorded.created.len() as i32,
            duplicate_count: (total - recorded.created.len()) as i32,
            events: recorded.events.into_iter().map(AuditEvent).collect(),
        })
    }

    /// Creates an API key in your tenant; its secret is returned only here.
    /// Needs `keys.manage`, and a key may grant only scopes it holds.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The key's name and scopes.")] input: CreateApiKeyInput,
    ) -> async_graphql::Result<CreateApiKeyPayload> {
        let requester = ctx.require(Scope::KeysManage)?;
        let scopes = scopes_of(&input)?;
        let s = ctx.services();
        let (key, secret) =
            service::keys::create_key(&s.store, &s.bus, requester.tenant, &input.name, scopes, Acting::Key(requester))
                .await?;
        Ok(CreateApiKeyPayload { api_key: ApiKey(key), secret })
    }

    /// Revokes an API key of your tenant; it stops working at once. Needs `keys.manage`.
    async fn revoke_api_key(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The key's global ID (`key_…`).")] id: ID,
    ) -> async_graphql::Result<RevokeApiKeyPayload> {
        let requester = ctx.require(Scope::KeysManage)?;
        let id = ApiKeyId::parse(&id, "id")?;
        let s = ctx.services();
        let key = service::keys::revoke_key(&s.store, &s.bus, requester.tenant, id, Acting::Key(requester)).await?;
        s.auth.forget(id);
        Ok(RevokeApiKeyPayload { api_key: ApiKey(key) })
    }

    /// Mints a viewer token: a read-only credential for your tenant's events
    /// matching `filter`, until it expires. Needs `audit.read` and an API key.
    async fn create_viewer_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The token's filter and lifetime.")] input: CreateViewerTokenInput,
    ) -> async_graphql::Result<ViewerToken> {
        viewer_token::create(ctx, input).await
    }

    /// Sets a tenant's retention and legal hold. Needs `admin`.
    async fn set_tenant_retention(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant's slug, its retention in days and its legal hold.")]
        input: SetTenantRetentionInput,
    ) -> async_graphql::Result<Tenant> {
        ctx.require(Scope::Admin)?.require_api_key("set retention")?;
        let days = match input.retention_days {
            async_graphql::MaybeUndefined::Undefined => None,
            async_graphql::MaybeUndefined::Null => Some(None),
            async_graphql::MaybeUndefined::Value(d) => Some(Some(d)),
        };
        let tenant = crate::service::retention::set(ctx.store(), &input.tenant, days, input.legal_hold).await?;
        Ok(Tenant(tenant))
    }

    /// Creates a tenant. Needs `admin`.
    async fn create_tenant(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant's slug and name.")] input: CreateTenantInput,
    ) -> async_graphql::Result<CreateTenantPayload> {
        let requester = ctx.require(Scope::Admin)?;
        let s = ctx.services();
        let tenant = service::tenants::create_tenant(
            &s.store,
            &s.bus,
            &input.slug,
            input.name.as_deref(),
            Acting::Key(requester),
        )
        .await?;
        Ok(CreateTenantPayload { tenant: Tenant(tenant) })
    }

    /// Creates an event stream delivering your tenant's matching events to a
    /// webhook or a Splunk HTTP Event Collector. Needs `keys.manage`.
    async fn create_event_stream(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The stream's name, filter, destination and starting point.")] input: CreateEventStreamInput,
    ) -> async_graphql::Result<CreateEventStreamPayload> {
        Ok(event_stream::create(ctx, input).await?)
    }

    /// Changes a stream's name, filter or pause. Needs `keys.manage`.
    async fn update_event_stream(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The stream's global ID (`str_…`).")] id: ID,
        #[graphql(desc = "What to change.")] input: UpdateEventStreamInput,
    ) -> async_graphql::Result<EventStream> {
        Ok(event_stream::update(ctx, id, input).await?)
    }

    /// Deletes a stream; delivery stops. Needs `keys.manage`.
    async fn delete_event_stream(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The stream's global ID (`str_…`).")] id: ID,
    ) -> async_graphql::Result<DeleteEventStreamPayload> {
        Ok(event_stream::delete(ctx, id).await?)
    }
}

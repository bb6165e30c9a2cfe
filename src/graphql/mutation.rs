//! The `Mutation` root.

use async_graphql::{Context, ID, Object, SimpleObject};

use super::actor::Actor;
use super::alert_rule::{self, AlertRule, CreateAlertRuleInput, DeleteAlertRulePayload, UpdateAlertRuleInput};
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
use crate::domain::ids::{ActorId, ApiKeyId};
use crate::service;
use crate::service::events::Answer;

/// The stored events of a recording.
#[derive(SimpleObject)]
pub struct RecordAuditEventsPayload {
    /// The stored event of every input, in input order (a duplicate shows the
    /// event stored first). A key without `audit.read` may select only `id`,
    /// `sequence` and `__typename` of them.
    pub events: Vec<AuditEvent>,
    /// Events this call stored.
    pub created_count: i32,
    /// Inputs whose idempotency key was already used: nothing new was stored for them.
    pub duplicate_count: i32,
}

/// What `eraseActor` did.
#[derive(SimpleObject)]
pub struct EraseActorPayload {
    /// The actor, its `displayName` and `email` cleared.
    pub actor: Actor,
    /// Its events that held personal values, which now read `null`.
    pub events_affected: i32,
}

/// The fields of a recorded event that a key without `audit.read` may select.
const RECEIPT_FIELDS: [&str; 3] = ["id", "sequence", "__typename"];

/// What the payload's selection asks to see of the stored events.
fn answer(ctx: &Context<'_>) -> Answer {
    let payload = ctx.field();
    let reveals = payload
        .selection_set()
        .filter(|field| field.name() == "events")
        .any(|events| events.selection_set().any(|field| !RECEIPT_FIELDS.contains(&field.name())));
    if reveals { Answer::Events } else { Answer::Receipts }
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
        let total = events.len();
        let specs = events.into_iter().map(Into::into).collect();
        let recorded = service::events::record(ctx.session(), specs, answer(ctx)).await?;
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
        let scopes = scopes_of(&input)?;
        let (key, secret) = service::keys::create(ctx.session(), &input.name, scopes).await?;
        Ok(CreateApiKeyPayload { api_key: ApiKey(key), secret })
    }

    /// Revokes an API key of your tenant; it stops working at once. Needs `keys.manage`.
    async fn revoke_api_key(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The key's global ID (`key_…`).")] id: ID,
    ) -> async_graphql::Result<RevokeApiKeyPayload> {
        let id = ApiKeyId::parse(&id, "id")?;
        Ok(RevokeApiKeyPayload { api_key: ApiKey(service::keys::revoke(ctx.session(), id).await?) })
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
        let days = match input.retention_days {
            async_graphql::MaybeUndefined::Undefined => None,
            async_graphql::MaybeUndefined::Null => Some(None),
            async_graphql::MaybeUndefined::Value(d) => Some(Some(d)),
        };
        let tenant = service::retention::change(ctx.session(), &input.tenant, days, input.legal_hold).await?;
        Ok(Tenant(tenant))
    }

    /// Creates a tenant. Needs `admin`.
    async fn create_tenant(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant's slug and name.")] input: CreateTenantInput,
    ) -> async_graphql::Result<CreateTenantPayload> {
        let tenant = service::tenants::create(ctx.session(), &input.slug, input.name.as_deref()).await?;
        Ok(CreateTenantPayload { tenant: Tenant(tenant) })
    }

    /// Creates an event stream delivering your tenant's matching events to a
    /// webhook or a Splunk HTTP Event Collector. Needs `keys.manage` and `audit.read`.
    async fn create_event_stream(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The stream's name, filter, destination and starting point.")] input: CreateEventStreamInput,
    ) -> async_graphql::Result<CreateEventStreamPayload> {
        Ok(event_stream::create(ctx, input).await?)
    }

    /// Changes a stream's name, filter or pause. Needs `keys.manage` and `audit.read`.
    async fn update_event_stream(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The stream's global ID (`str_…`).")] id: ID,
        #[graphql(desc = "What to change.")] input: UpdateEventStreamInput,
    ) -> async_graphql::Result<EventStream> {
        Ok(event_stream::update(ctx, id, input).await?)
    }

    /// Deletes a stream; delivery stops. Needs `keys.manage` and `audit.read`.
    async fn delete_event_stream(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The stream's global ID (`str_…`).")] id: ID,
    ) -> async_graphql::Result<DeleteEventStreamPayload> {
        Ok(event_stream::delete(ctx, id).await?)
    }

    /// Creates an alert rule on your tenant's live log. Needs `keys.manage`
    /// and `audit.read` (or `admin`), as event streams do.
    async fn create_alert_rule(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The rule's name, events, threshold, window, keys and cooldown.")] input: CreateAlertRuleInput,
    ) -> async_graphql::Result<AlertRule> {
        Ok(alert_rule::create(ctx, input).await?)
    }

    /// Changes an alert rule. Needs `keys.manage` and `audit.read`.
    async fn update_alert_rule(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The rule's global ID (`alr_…`).")] id: ID,
        #[graphql(desc = "What to change.")] input: UpdateAlertRuleInput,
    ) -> async_graphql::Result<AlertRule> {
        Ok(alert_rule::update(ctx, id, input).await?)
    }

    /// Erases an actor's personal data (GDPR art. 17): destroys its data key,
    /// so every value its events seal (its `displayName` and `email`, the
    /// request's `ipAddress` and `userAgent`, the paths listed in `personal`)
    /// reads `null` from now on, while every leaf and proof stays valid; clears
    /// its profile's `displayName` and `email`. Recorded as `privacy.erase`.
    /// Needs `admin`; refused while the tenant is on legal hold.
    async fn erase_actor(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The actor's global ID (`act_…`).")] id: ID,
    ) -> async_graphql::Result<EraseActorPayload> {
        let id = ActorId::parse(&id, "id")?;
        let erased = service::erasure::erase_actor(ctx.session(), id).await?;
        let events_affected = i32::try_from(erased.events_affected).unwrap_or(i32::MAX);
        Ok(EraseActorPayload { actor: Actor(erased.actor), events_affected })
    }

    /// Deletes an alert rule. Needs `keys.manage` and `audit.read`.
    async fn delete_alert_rule(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The rule's global ID (`alr_…`).")] id: ID,
    ) -> async_graphql::Result<DeleteAlertRulePayload> {
        Ok(alert_rule::delete(ctx, id).await?)
    }
}

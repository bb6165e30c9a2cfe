//! `AuditEvent` and the event connection shared by `auditEvents`,
//! `Actor.events` and `Resource.events`.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::actor::{Actor, ActorSnapshot};
use super::connection::connection;
use super::context::ContextExt;
use super::enums::{AuditEventOrderField, AuditOutcome, SortDirection};
use super::error::shared;
use super::filter_input::AuditEventFilter;
use super::ledger::InclusionProof;
use super::resource::Resource;
use super::scalars::{BigInt, DateTime, Json};
use crate::domain::cursor::{Cursor, EventOrder};
use crate::domain::data_key::DataKey;
use crate::domain::event::FieldChange as DomainChange;
use crate::domain::page::{PageArgs, PageResult};
use crate::domain::personal;
use crate::domain::selection::{Detail, Joins};
use crate::domain::stored_event::StoredEvent;
use crate::error::{Error, Result};
use crate::service::ledger::b64;
use crate::service::reads::{self, EventsQuery, Owner};

/// How to order events; ties break on the event ID in the same direction.
#[derive(InputObject, Clone, Copy, Debug, Default)]
pub struct AuditEventOrder {
    /// The field to order by.
    #[graphql(default)]
    pub field: AuditEventOrderField,
    /// `DESC` is newest first.
    #[graphql(default)]
    pub direction: SortDirection,
}

impl From<Option<AuditEventOrder>> for EventOrder {
    fn from(order: Option<AuditEventOrder>) -> Self {
        let order = order.unwrap_or_default();
        EventOrder { field: order.field.into(), direction: order.direction.into() }
    }
}

/// One recorded audit event: who did what to which resource, when, and how it went.
#[derive(Clone)]
pub struct AuditEvent(pub StoredEvent);

/// The before and after values of one field an action changed.
#[derive(SimpleObject, Clone, Debug)]
pub struct FieldChange {
    /// The field's name.
    pub field: String,
    /// Its value before the action.
    pub before: Option<Json>,
    /// Its value after the action.
    pub after: Option<Json>,
}

/// The request that caused an event.
#[derive(SimpleObject, Clone, Debug)]
pub struct RequestContext {
    /// The request's ID.
    pub id: Option<String>,
    /// HTTP method.
    pub method: Option<String>,
    /// HTTP path.
    pub path: Option<String>,
    /// HTTP status.
    pub status: Option<i32>,
    /// Latency in milliseconds.
    pub latency_ms: Option<f64>,
    /// The client's address, in canonical form.
    pub ip_address: Option<String>,
    /// The client's user agent.
    pub user_agent: Option<String>,
}

/// One recorded audit event: who did what to which resource, when, and how it went.
#[Object]
impl AuditEvent {
    /// The event's global ID (`evt_…`).
    pub async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Dot-namespaced action, e.g. `workspace.snapshot.create`.
    async fn action(&self) -> &str {
        &self.0.action
    }

    /// The action's first segment, e.g. `workspace`.
    async fn category(&self) -> &str {
        &self.0.category
    }

    /// Whether the action succeeded.
    async fn outcome(&self) -> AuditOutcome {
        self.0.outcome.into()
    }

    /// When it happened, as the producer said.
    async fn occurred_at(&self) -> DateTime {
        self.0.occurred_at.into()
    }

    /// When this server stored it.
    async fn received_at(&self) -> DateTime {
        self.0.received_at.into()
    }

    /// Who did it.
    async fn actor(&self, ctx: &Context<'_>) -> async_graphql::Result<Actor> {
        let actor = ctx
            .loaders()
            .actors
            .load_one((self.0.tenant, self.0.actor_id))
            .await
            .map_err(shared)?
            .ok_or_else(|| Error::internal("an event's actor is missing"))?;
        Ok(Actor(actor))
    }

    /// The primary target, if any.
    async fn resource(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Resource>> {
        let Some(id) = self.0.resource_id else { return Ok(None) };
        let found = ctx.loaders().resources.load_one((self.0.tenant, id)).await.map_err(shared)?;
        Ok(found.map(Resource))
    }

    /// Other things involved (session, vm, incident…), in the order recorded.
    async fn related_resources(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Resource>> {
        let found = ctx.loaders().event_resources.load_one((self.0.tenant, self.0.id)).await.map_err(shared)?;
        Ok(found.map(|r| r.related.into_iter().map(Resource).collect()).unwrap_or_default())
    }

    /// A human-readable description.
    async fn summary(&self) -> Option<&str> {
        self.0.summary.as_deref()
    }

    /// Why it was done.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }

    /// What went wrong.
    async fn error_message(&self) -> Option<&str> {
        self.0.error_message.as_deref()
    }

    /// E.g. `production`, `sandbox`.
    async fn environment(&self) -> Option<&str> {
        self.0.environment.as_deref()
    }

    /// The producing service.
    async fn source_service(&self) -> Option<&str> {
        self.0.source_service.as_deref()
    }

    /// Ties together the events of one logical operation.
    async fn correlation_id(&self) -> Option<&str> {
        self.0.correlation_id.as_deref()
    }

    /// The request that caused the event; null when it had none.
    async fn request(&self) -> Option<RequestContext> {
        self.0.request.as_ref().map(|r| RequestContext {
            id: r.id.clone(),
            method: r.method.clone(),
            path: r.path.clone(),
            status: r.status,
            latency_ms: r.latency_ms,
            ip_address: r.ip_address.map(|ip| ip.to_string()),
            user_agent: r.user_agent.clone(),
        })
    }

    /// Further detail: a JSON object, `{}` when none. Personal values read
    /// `null` once their actor is erased.
    async fn metadata(&self, ctx: &Context<'_>) -> async_graphql::Result<Json> {
        let key = self.opening_key(ctx).await?;
        Ok(async_graphql::Json(personal::opened_metadata(&self.0, key.as_ref())))
    }

    /// Before/after values of what the action changed.
    async fn changes(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<FieldChange>> {
        let changes = personal::opened_changes(&self.0, self.opening_key(ctx).await?.as_ref());
        let changes: Vec<DomainChange> = serde_json::from_value(changes).map_err(Error::internal)?;
        Ok(changes
            .into_iter()
            .map(|c| FieldChange {
                field: c.field,
                before: c.before.map(async_graphql::Json),
                after: c.after.map(async_graphql::Json),
            })
            .collect())
    }

    /// The producer's idempotency key.
    async fn idempotency_key(&self) -> Option<&str> {
        self.0.idempotency_key.as_deref()
    }

    /// The event's position in its tenant's log: 1, 2, 3, … in commit order,
    /// with no gap. Page by `SEQUENCE` to follow the log without missing an event.
    async fn sequence(&self) -> BigInt {
        BigInt(self.0.sequence)
    }

    /// The actor exactly as the producer described it in this event (roles at
    /// the time of the action); `actor` resolves the current profile. Its
    /// `displayName` and `email` read `null` once the actor is erased.
    async fn recorded_actor(&self, ctx: &Context<'_>) -> async_graphql::Result<ActorSnapshot> {
        let key = self.opening_key(ctx).await?;
        Ok(ActorSnapshot::from_recorded(personal::opened_actor(&self.0, key.as_ref()))?)
    }

    /// Paths of this event's personal values that were erased (`eraseActor`)
    /// and now read `null`, e.g. `actor.displayName`, `request.ipAddress`,
    /// `metadata.email`; empty while they can be read.
    async fn erased_paths(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        Ok(personal::erased_paths(&self.0, self.opening_key(ctx).await?.as_ref()))
    }

    /// The canonical event: the RFC 8785 (JCS) bytes of this event's ledger leaf.
    async fn canonical_json(&self) -> Result<String> {
        String::from_utf8(crate::ledger::event::bytes(&self.0)).map_err(Error::internal)
    }

    /// SHA-256(0x00 ‖ canonical event), base64: the event's leaf hash.
    async fn leaf_hash(&self) -> String {
        b64(&crate::ledger::event::hash(&self.0))
    }

    /// The RFC 9162 inclusion proof of this event in the tree of `treeSize`
    /// leaves (default: the current size).
    async fn inclusion_proof(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tree size (default: the current size); at least this event's sequence.")]
        tree_size: Option<BigInt>,
    ) -> async_graphql::Result<InclusionProof> {
        let leaf_index = (self.0.sequence - 1) as u64;
        // Through the request's loader: a page's proofs cost two statements in all.
        let proof = ctx
            .loaders()
            .inclusion_proofs
            .load_one((self.0.tenant, (leaf_index, tree_size.map(|n| n.0))))
            .await
            .map_err(shared)?
            .ok_or_else(|| Error::internal("the proof loader returned nothing"))?
            .map_err(shared)?;
        Ok(InclusionProof {
            leaf_index: proof.leaf_index.into(),
            tree_size: proof.tree_size.into(),
            leaf_hash: b64(&crate::ledger::event::hash(&self.0)),
            hashes: proof.hashes.iter().map(b64).collect(),
        })
    }
}

impl AuditEvent {
    /// The data key that opens the event's sealed values, through the
    /// request's loader: `None` once the actor is erased, and, with no
    /// statement, when nothing in the event is sealed.
    async fn opening_key(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DataKey>> {
        if !personal::has_sealed(&self.0) {
            return Ok(None);
        }
        let found = ctx.loaders().data_keys.load_one((self.0.tenant, self.0.actor_id)).await.map_err(shared)?;
        Ok(found.map(|k| k.key))
    }
}

connection!(AuditEventConnection, AuditEventEdge, AuditEvent, "audit event");

/// The arguments of every event connection (`auditEvents`, `Actor.events`,
/// `Resource.events`), as received.
pub struct EventsArgs {
    pub filter: Option<AuditEventFilter>,
    pub query: Option<String>,
    pub order_by: Option<AuditEventOrder>,
    pub page: PageArgs,
}

/// Answers an event connection: the events of `owner` matching the caller's
/// filter, as far as the caller may read them, with what the selection needs
/// fetched along.
pub async fn events_connection(
    ctx: &Context<'_>,
    owner: Owner,
    args: EventsArgs,
) -> async_graphql::Result<AuditEventConnection> {
    let order = EventOrder::from(args.order_by);
    let filter = AuditEventFilter::combine(ctx, args.filter, args.query.as_deref())?;
    let page = args.page.into_page(|text, path| Cursor::decode_event(text, order, path))?;
    let look = ctx.look_ahead();
    let nodes = [look.field("edges").field("node"), look.field("nodes")];
    let selected = |field: &str| nodes.iter().any(|n| n.field(field).exists());
    // The leaf is the whole event: whoever asks for it needs every column.
    let whole = ["canonicalJson", "leafHash", "inclusionProof"].iter().any(|f| selected(f));
    let detail = Detail {
        metadata: whole || selected("metadata") || selected("erasedPaths"),
        changes: whole || selected("changes") || selected("erasedPaths"),
        texts: whole || selected("summary") || selected("reason") || selected("errorMessage"),
        // Where the sealed values are is kept with the recorded actor;
        // erased paths need the metadata and changes too.
        recorded: whole || ["recordedActor", "metadata", "changes", "erasedPaths"].iter().any(|f| selected(f)),
        request: whole || selected("request"),
    };
    // Actors and primary resources come with the page (the related resources'
    // links bring the primary ones along, so those need no join).
    let joins = Joins { actor: selected("actor"), resource: selected("resource") && !selected("relatedResources") };
    let read = reads::events_page(ctx.session(), EventsQuery { owner, filter, order, page, detail, joins }).await?;
    let (mut actors, mut resources) = (Vec::new(), Vec::new());
    let items = read
        .page
        .items
        .into_iter()
        .map(|row| {
            actors.extend(row.actor);
            resources.extend(row.resource);
            row.event
        })
        .collect();
    let rows =
        PageResult { items, has_next_page: read.page.has_next_page, has_previous_page: read.page.has_previous_page };
    let loaders = ctx.loaders();
    loaders.feed(actors, resources).await;
    loaders.prefetch(&rows.items, &nodes, joins).await.map_err(shared)?;
    Ok(AuditEventConnection::from_page(rows, |row| row.cursor(order), AuditEvent, read.count))
}

//! The events the server records about its own operations (key and tenant
//! changes, streams, retention), in the tenant they affect.

use crate::bus::Bus;
use crate::domain::event::{ActorType, NewActor, NewEvent, NewResource, Outcome};
use crate::domain::ids::TenantId;
use crate::domain::requester::Requester;
use crate::error::Result;
use crate::store::Store;

use super::unit_of_work::UnitOfWork;

/// Who performs an operation.
pub enum Acting<'a> {
    /// The operator, on the command line.
    System,
    /// A caller with an API key.
    Key(&'a Requester),
}

impl Acting<'_> {
    fn actor(&self) -> NewActor {
        match self {
            Acting::System => NewActor {
                kind: ActorType::System,
                external_id: "auditgraph-cli".into(),
                display_name: Some("auditgraph command line".into()),
                email: None,
                roles: None,
            },
            Acting::Key(requester) => requester.actor(),
        }
    }
}

/// An event the server records about itself at `at`, in the tenant it
/// affects, with `sourceService: "auditgraph"`.
pub fn self_audit(
    at: chrono::DateTime<chrono::Utc>,
    action: &str,
    acting: &Acting<'_>,
    resource: NewResource,
    summary: String,
    metadata: serde_json::Value,
) -> NewEvent {
    NewEvent {
        action: action.into(),
        outcome: Outcome::Success,
        occurred_at: at,
        actor: acting.actor(),
        resource: Some(resource),
        related_resources: Vec::new(),
        summary: Some(summary),
        reason: None,
        error_message: None,
        environment: None,
        source_service: Some(crate::domain::event::SELF_AUDIT_SOURCE.into()),
        correlation_id: None,
        request: None,
        metadata: metadata.as_object().cloned().unwrap_or_default(),
        changes: Vec::new(),
        idempotency_key: None,
        personal: Vec::new(),
    }
}

/// Records one event the server writes about itself, in its own transaction.
pub async fn record_self_audit(store: &Store, bus: &Bus, tenant: TenantId, event: NewEvent) -> Result<()> {
    let mut unit = UnitOfWork::begin(store, bus).await?;
    unit.record(tenant, vec![event]).await?;
    unit.commit().await
}

//! Models decoded from result rows by column position. SeaORM's
//! `from_query_result` finds every column by name (a formatted name and a
//! hashed look-up per column per row), which was a quarter of a page's CPU;
//! statements that select a model's columns in declaration order, as
//! [`super::events::select_columns`] and the page joins do, are decoded here by
//! index instead. `base` is the position of the model's first column.

use std::net::IpAddr;

use entity::{actor, audit_event as ev, resource};
use sea_orm::{DbErr, QueryResult, TryGetable};
use uuid::Uuid;

use crate::domain::actor::Actor;
use crate::domain::event::{Outcome, RequestContext};
use crate::domain::ids::{ActorId, EventId, ResourceId, TenantId};
use crate::domain::resource::Resource;
use crate::domain::stored_event::StoredEvent;

fn at<T: TryGetable>(row: &QueryResult, index: usize) -> Result<T, DbErr> {
    row.try_get_by_index(index)
}

/// An event whose columns start at `base`, in `ev::Column` order.
pub fn event(row: &QueryResult, base: usize) -> Result<StoredEvent, DbErr> {
    use ev::Column as C;
    let i = |column: C| base + column as usize;
    let request = match at::<bool>(row, i(C::HasRequest))? {
        false => None,
        true => Some(RequestContext {
            id: at(row, i(C::RequestId))?,
            method: at(row, i(C::RequestMethod))?,
            path: at(row, i(C::RequestPath))?,
            status: at(row, i(C::RequestStatus))?,
            latency_ms: at(row, i(C::RequestLatencyMs))?,
            ip_address: ip(at(row, i(C::RequestIp))?)?,
            user_agent: at(row, i(C::RequestUserAgent))?,
        }),
    };
    Ok(StoredEvent {
        id: EventId(at(row, i(C::Id))?),
        tenant: TenantId(at(row, i(C::TenantId))?),
        sequence: at(row, i(C::Sequence))?,
        action: at(row, i(C::Action))?,
        category: at(row, i(C::Category))?,
        outcome: outcome(&at::<String>(row, i(C::Outcome))?)?,
        occurred_at: at(row, i(C::OccurredAt))?,
        received_at: at(row, i(C::ReceivedAt))?,
        actor_id: ActorId(at(row, i(C::ActorId))?),
        resource_id: at::<Option<Uuid>>(row, i(C::ResourceId))?.map(ResourceId),
        summary: at(row, i(C::Summary))?,
        reason: at(row, i(C::Reason))?,
        error_message: at(row, i(C::ErrorMessage))?,
        environment: at(row, i(C::Environment))?,
        source_service: at(row, i(C::SourceService))?,
        correlation_id: at(row, i(C::CorrelationId))?,
        request,
        metadata: at(row, i(C::Metadata))?,
        changes: at(row, i(C::Changes))?,
        idempotency_key: at(row, i(C::IdempotencyKey))?,
        recorded: at(row, i(C::Recorded))?,
    })
}

/// A stored event read through SeaORM's model, as the domain's.
pub fn stored_event(row: ev::Model) -> Result<StoredEvent, DbErr> {
    let request = match row.has_request {
        false => None,
        true => Some(RequestContext {
            id: row.request_id,
            method: row.request_method,
            path: row.request_path,
            status: row.request_status,
            latency_ms: row.request_latency_ms,
            ip_address: ip(row.request_ip)?,
            user_agent: row.request_user_agent,
        }),
    };
    Ok(StoredEvent {
        id: EventId(row.id),
        tenant: TenantId(row.tenant_id),
        sequence: row.sequence,
        outcome: outcome(&row.outcome)?,
        action: row.action,
        category: row.category,
        occurred_at: row.occurred_at,
        received_at: row.received_at,
        actor_id: ActorId(row.actor_id),
        resource_id: row.resource_id.map(ResourceId),
        summary: row.summary,
        reason: row.reason,
        error_message: row.error_message,
        environment: row.environment,
        source_service: row.source_service,
        correlation_id: row.correlation_id,
        request,
        metadata: row.metadata,
        changes: row.changes,
        idempotency_key: row.idempotency_key,
        recorded: row.recorded,
    })
}

/// The row that stores `event`, with the text the `text` filter searches and
/// the words the `search` filter looks for.
pub fn event_row(event: &StoredEvent, search_text: String, search_words: String) -> ev::Model {
    let request = event.request.as_ref();
    ev::Model {
        id: event.id.0,
        tenant_id: event.tenant.0,
        action: event.action.clone(),
        category: event.category.clone(),
        outcome: event.outcome.as_str().to_string(),
        occurred_at: event.occurred_at,
        received_at: event.received_at,
        actor_id: event.actor_id.0,
        resource_id: event.resource_id.map(|r| r.0),
        summary: event.summary.clone(),
        reason: event.reason.clone(),
        error_message: event.error_message.clone(),
        environment: event.environment.clone(),
        source_service: event.source_service.clone(),
        correlation_id: event.correlation_id.clone(),
        has_request: request.is_some(),
        request_id: request.and_then(|r| r.id.clone()),
        request_method: request.and_then(|r| r.method.clone()),
        request_path: request.and_then(|r| r.path.clone()),
        request_status: request.and_then(|r| r.status),
        request_latency_ms: request.and_then(|r| r.latency_ms),
        request_ip: request.and_then(|r| r.ip_address.map(|ip| ip.to_string())),
        request_user_agent: request.and_then(|r| r.user_agent.clone()),
        metadata: event.metadata.clone(),
        changes: event.changes.clone(),
        idempotency_key: event.idempotency_key.clone(),
        search_text,
        sequence: event.sequence,
        recorded: event.recorded.clone(),
        search_words,
    }
}

fn outcome(stored: &str) -> Result<Outcome, DbErr> {
    Outcome::from_stored(stored).ok_or_else(|| DbErr::Type(format!("stored outcome `{stored}` is unknown")))
}

/// A stored address: written in canonical form, so it always parses back.
fn ip(stored: Option<String>) -> Result<Option<IpAddr>, DbErr> {
    stored
        .map(|text| text.parse().map_err(|_| DbErr::Type(format!("stored address `{text}` does not parse"))))
        .transpose()
}

/// An actor whose columns start at `base`, in `actor::Column` order.
pub fn actor(row: &QueryResult, base: usize) -> Result<Actor, DbErr> {
    use actor::Column as C;
    let i = |column: C| base + column as usize;
    Ok(super::actors::record(actor::Model {
        id: at(row, i(C::Id))?,
        tenant_id: at(row, i(C::TenantId))?,
        kind: at(row, i(C::Kind))?,
        external_id: at(row, i(C::ExternalId))?,
        display_name: at(row, i(C::DisplayName))?,
        email: at(row, i(C::Email))?,
        roles: at(row, i(C::Roles))?,
        created_at: at(row, i(C::CreatedAt))?,
        updated_at: at(row, i(C::UpdatedAt))?,
    }))
}

/// A resource whose columns start at `base`, in `resource::Column` order.
pub fn resource(row: &QueryResult, base: usize) -> Result<Resource, DbErr> {
    use resource::Column as C;
    let i = |column: C| base + column as usize;
    Ok(super::resources::record(resource::Model {
        id: at(row, i(C::Id))?,
        tenant_id: at(row, i(C::TenantId))?,
        kind: at(row, i(C::Kind))?,
        external_id: at(row, i(C::ExternalId))?,
        name: at(row, i(C::Name))?,
        created_at: at(row, i(C::CreatedAt))?,
        updated_at: at(row, i(C::UpdatedAt))?,
    }))
}

/// How many columns a model of `E` has: where the next model's columns start.
pub fn width<E: sea_orm::EntityTrait>() -> usize {
    use sea_orm::Iterable;
    E::Column::iter().count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Iterable;

    /// `Column as usize` is the position `Column::iter()` (and so every
    /// statement that selects a model's columns in order) puts it at.
    #[test]
    fn discriminants_are_positions() {
        assert!(ev::Column::iter().enumerate().all(|(n, c)| c as usize == n));
        assert!(actor::Column::iter().enumerate().all(|(n, c)| c as usize == n));
        assert!(resource::Column::iter().enumerate().all(|(n, c)| c as usize == n));
    }
}

//! Models decoded from result rows by column position. SeaORM's
//! `from_query_result` finds every column by name (a formatted name and a
//! hashed look-up per column per row), which was a quarter of a page's CPU;
//! statements that select a model's columns in declaration order, as
//! [`super::events::select_columns`] and the page joins do, are decoded here by
//! index instead. `base` is the position of the model's first column.

use entity::{actor, audit_event as ev, resource};
use sea_orm::{DbErr, QueryResult, TryGetable};

fn at<T: TryGetable>(row: &QueryResult, index: usize) -> Result<T, DbErr> {
    row.try_get_by_index(index)
}

/// An event whose columns start at `base`, in `ev::Column` order.
pub fn event(row: &QueryResult, base: usize) -> Result<ev::Model, DbErr> {
    use ev::Column as C;
    let i = |column: C| base + column as usize;
    Ok(ev::Model {
        id: at(row, i(C::Id))?,
        tenant_id: at(row, i(C::TenantId))?,
        action: at(row, i(C::Action))?,
        category: at(row, i(C::Category))?,
        outcome: at(row, i(C::Outcome))?,
        occurred_at: at(row, i(C::OccurredAt))?,
        received_at: at(row, i(C::ReceivedAt))?,
        actor_id: at(row, i(C::ActorId))?,
        resource_id: at(row, i(C::ResourceId))?,
        summary: at(row, i(C::Summary))?,
        reason: at(row, i(C::Reason))?,
        error_message: at(row, i(C::ErrorMessage))?,
        environment: at(row, i(C::Environment))?,
        source_service: at(row, i(C::SourceService))?,
        correlation_id: at(row, i(C::CorrelationId))?,
        has_request: at(row, i(C::HasRequest))?,
        request_id: at(row, i(C::RequestId))?,
        request_method: at(row, i(C::RequestMethod))?,
        request_path: at(row, i(C::RequestPath))?,
        request_status: at(row, i(C::RequestStatus))?,
        request_latency_ms: at(row, i(C::RequestLatencyMs))?,
        request_ip: at(row, i(C::RequestIp))?,
        request_user_agent: at(row, i(C::RequestUserAgent))?,
        metadata: at(row, i(C::Metadata))?,
        changes: at(row, i(C::Changes))?,
        idempotency_key: at(row, i(C::IdempotencyKey))?,
        search_text: at(row, i(C::SearchText))?,
        sequence: at(row, i(C::Sequence))?,
        recorded: at(row, i(C::Recorded))?,
    })
}

/// An actor whose columns start at `base`, in `actor::Column` order.
pub fn actor(row: &QueryResult, base: usize) -> Result<actor::Model, DbErr> {
    use actor::Column as C;
    let i = |column: C| base + column as usize;
    Ok(actor::Model {
        id: at(row, i(C::Id))?,
        tenant_id: at(row, i(C::TenantId))?,
        kind: at(row, i(C::Kind))?,
        external_id: at(row, i(C::ExternalId))?,
        display_name: at(row, i(C::DisplayName))?,
        email: at(row, i(C::Email))?,
        roles: at(row, i(C::Roles))?,
        created_at: at(row, i(C::CreatedAt))?,
        updated_at: at(row, i(C::UpdatedAt))?,
    })
}

/// A resource whose columns start at `base`, in `resource::Column` order.
pub fn resource(row: &QueryResult, base: usize) -> Result<resource::Model, DbErr> {
    use resource::Column as C;
    let i = |column: C| base + column as usize;
    Ok(resource::Model {
        id: at(row, i(C::Id))?,
        tenant_id: at(row, i(C::TenantId))?,
        kind: at(row, i(C::Kind))?,
        external_id: at(row, i(C::ExternalId))?,
        name: at(row, i(C::Name))?,
        created_at: at(row, i(C::CreatedAt))?,
        updated_at: at(row, i(C::UpdatedAt))?,
    })
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

//! The GraphQL faces of the domain's enums: each mirrors one domain enum
//! (async-graphql's `remote` derives the conversions both ways), so that the
//! domain knows nothing of GraphQL.

use async_graphql::Enum;

use crate::domain;

/// Who performed an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "domain::event::ActorType")]
pub enum ActorType {
    /// A person.
    User,
    /// A program using an API key.
    ApiKey,
    /// A non-human account of the producer's.
    ServiceAccount,
    /// A service inside the producer's system.
    InternalService,
    /// The system itself (schedulers, the command line).
    System,
    /// Someone not authenticated (e.g. a failed login).
    Anonymous,
}

/// Whether the action succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "domain::event::Outcome")]
pub enum AuditOutcome {
    /// The action succeeded.
    Success,
    /// The action failed or was refused.
    Failure,
}

/// What a key may do. `admin` includes the other three, in any tenant it acts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "domain::scope::Scope")]
pub enum ApiKeyScope {
    /// Query and subscribe.
    AuditRead,
    /// Record events.
    AuditWrite,
    /// Create and revoke the keys of its tenant.
    KeysManage,
    /// Create tenants and act in any tenant (header `X-Audit-Tenant`).
    Admin,
}

/// The field events are ordered by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Enum)]
#[graphql(remote = "domain::cursor::OrderField")]
pub enum AuditEventOrderField {
    /// When the event happened, as the producer said.
    #[default]
    OccurredAt,
    /// When this server stored the event.
    ReceivedAt,
    /// The event's position in its tenant's log: gapless and in commit order,
    /// the order to follow the log by.
    Sequence,
}

/// Which way an ordering runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Enum)]
#[graphql(remote = "domain::cursor::SortDirection")]
pub enum SortDirection {
    /// Oldest first.
    Asc,
    /// Newest first.
    #[default]
    Desc,
}

/// A field events are grouped by in stats and alert rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "domain::stats::StatsDimension")]
pub enum StatsDimension {
    /// The action.
    Action,
    /// The action's first segment.
    Category,
    /// `SUCCESS` or `FAILURE`.
    Outcome,
    /// The actor's node ID (`act_…`).
    Actor,
    /// The primary resource's type.
    ResourceType,
    /// The environment.
    Environment,
    /// The producing service.
    SourceService,
    /// The request's HTTP status, e.g. `"403"`.
    HttpStatus,
}

/// The width of a stats time bucket, in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "domain::stats::StatsInterval")]
pub enum StatsInterval {
    /// A minute.
    Minute,
    /// An hour.
    Hour,
    /// A day, from midnight UTC.
    Day,
    /// A week, from Monday 00:00 UTC.
    Week,
    /// A calendar month, from the first at 00:00 UTC.
    Month,
}

//! The event filter of the contract (`AuditEventFilter` and its parts) as
//! GraphQL input types, and their conversion into the domain's written form
//! ([`FilterSpec`]), which every door shares and validates.

use async_graphql::{ID, InputObject, MaybeUndefined};

use super::enums::{self, AuditOutcome};
use super::scalars::{BigInt, DateTime, Json};
use crate::domain::filter::Filter;
use crate::domain::filter_spec::{
    ActorMatchSpec, ChangeMatchSpec, FilterSpec, IntRangeSpec, RangeSpec, ResourceMatchSpec, StringMatchSpec,
};
use crate::domain::json_condition::JsonConditionSpec;
use crate::domain::wire::{Instant, Int64};
use crate::error::Result;

/// Tests on a string field. Every test set must hold; case-sensitive.
#[derive(InputObject, Clone, Debug, Default)]
pub struct StringMatch {
    /// Equal to this value.
    pub eq: Option<String>,
    /// Equal to one of these values; an empty list matches nothing.
    #[graphql(name = "in")]
    pub is_in: Option<Vec<String>>,
    /// Starts with this literal text (`%` and `_` match only themselves).
    pub prefix: Option<String>,
    /// Not equal to any of these values; an event without the field matches.
    pub not_in: Option<Vec<String>>,
}

/// Matches actors: every field set narrows, values in one list are alternatives.
#[derive(InputObject, Clone, Debug, Default)]
pub struct ActorMatch {
    /// Actor IDs (`act_…`).
    pub id: Option<Vec<ID>>,
    /// Actor types.
    #[graphql(name = "type")]
    pub kind: Option<Vec<enums::ActorType>>,
    /// The producer's IDs of the actors.
    pub external_id: Option<Vec<String>>,
    /// Email addresses (exact, case-sensitive).
    pub email: Option<Vec<String>>,
}

/// Matches resources: every field set narrows, values in one list are alternatives.
#[derive(InputObject, Clone, Debug, Default)]
pub struct ResourceMatch {
    /// Resource IDs (`res_…`).
    pub id: Option<Vec<ID>>,
    /// Resource types, e.g. `workspace`.
    #[graphql(name = "type")]
    pub kind: Option<Vec<String>>,
    /// The producer's IDs of the resources.
    pub external_id: Option<Vec<String>>,
}

/// A range of instants; every bound set must hold.
#[derive(InputObject, Clone, Debug, Default)]
pub struct DateTimeRange {
    /// At or after.
    pub gte: Option<DateTime>,
    /// After.
    pub gt: Option<DateTime>,
    /// At or before.
    pub lte: Option<DateTime>,
    /// Before.
    pub lt: Option<DateTime>,
}

/// A range of integers, bounds included.
#[derive(InputObject, Clone, Debug, Default)]
pub struct IntRange {
    /// At least.
    pub gte: Option<i32>,
    /// At most.
    pub lte: Option<i32>,
}

/// Selects audit events. Every field set narrows the result (AND); `and`, `or`
/// and `not` compose whole filters, at most 5 levels deep and 100 conditions in all.
#[derive(InputObject, Clone, Debug, Default)]
pub struct AuditEventFilter {
    /// The action, e.g. `{prefix: "workspace.snapshot."}`.
    pub action: Option<StringMatch>,
    /// The action's first segment.
    pub category: Option<StringMatch>,
    /// Whether the action succeeded.
    pub outcome: Option<AuditOutcome>,
    /// Who acted.
    pub actor: Option<ActorMatch>,
    /// The primary resource.
    pub resource: Option<ResourceMatch>,
    /// The primary resource or any related resource (one of them must match it all).
    pub related_to: Option<ResourceMatch>,
    /// When the event happened.
    pub occurred_at: Option<DateTimeRange>,
    /// When this server stored the event.
    pub received_at: Option<DateTimeRange>,
    /// The event's position in its tenant's log (see `AuditEvent.sequence`).
    pub sequence: Option<BigIntRange>,
    /// The environment, e.g. `production`.
    pub environment: Option<StringMatch>,
    /// The producing service.
    pub source_service: Option<StringMatch>,
    /// Exactly this correlation ID.
    pub correlation_id: Option<String>,
    /// Exactly this request ID.
    pub request_id: Option<String>,
    /// The request's IP address (compared as an address: `2001:DB8::1` equals `2001:db8::1`).
    pub ip_address: Option<String>,
    /// The request's HTTP status.
    pub http_status: Option<IntRange>,
    /// Case-insensitive substring of the action, summary, reason or error message.
    pub text: Option<String>,
    /// Tests on values in the event's metadata; every one must hold.
    pub metadata: Option<Vec<JsonCondition>>,
    /// Some change of the event matches.
    pub changes: Option<ChangeMatch>,
    /// Words in the event's text: `word`, `word*` (a prefix) and `"a phrase"`;
    /// all must match, case-insensitively.
    pub search: Option<String>,
    /// Every one of these filters.
    pub and: Option<Vec<AuditEventFilter>>,
    /// At least one of these filters.
    pub or: Option<Vec<AuditEventFilter>>,
    /// Not this filter.
    pub not: Option<Box<AuditEventFilter>>,
}

/// A test on the value at a path of an event's `metadata`; every test set
/// must hold. Values compare by JSON type and value (`1` equals `1.0`, never
/// `"1"`); ranges match only values of their bound's type.
#[derive(InputObject, Clone, Debug, Default)]
pub struct JsonCondition {
    /// 1–8 dot-separated segments of `[A-Za-z0-9_$@-]`; one of digits also indexes an array.
    pub path: String,
    /// Equal to this value (`null` included).
    pub eq: MaybeUndefined<Json>,
    /// Equal to one of these values.
    #[graphql(name = "in")]
    pub is_in: Option<Vec<Json>>,
    /// Greater than this number or string.
    pub gt: Option<Json>,
    /// At least this number or string.
    pub gte: Option<Json>,
    /// Less than this number or string.
    pub lt: Option<Json>,
    /// At most this number or string.
    pub lte: Option<Json>,
    /// A string starting with this.
    pub prefix: Option<String>,
    /// Present (even as `null`), or absent.
    pub exists: Option<bool>,
}

/// Matches an event's changes: some change must pass every test set.
#[derive(InputObject, Clone, Debug, Default)]
pub struct ChangeMatch {
    /// The changed field's name.
    pub field: Option<StringMatch>,
}

/// Bounds on a 64-bit integer; every bound given must hold.
#[derive(InputObject, Clone, Debug, Default)]
pub struct BigIntRange {
    /// At least.
    pub gte: Option<BigInt>,
    /// More than.
    pub gt: Option<BigInt>,
    /// At most.
    pub lte: Option<BigInt>,
    /// Less than.
    pub lt: Option<BigInt>,
}

impl From<StringMatch> for StringMatchSpec {
    fn from(m: StringMatch) -> Self {
        StringMatchSpec { eq: m.eq, is_in: m.is_in, prefix: m.prefix, not_in: m.not_in }
    }
}

impl From<ActorMatch> for ActorMatchSpec {
    fn from(m: ActorMatch) -> Self {
        ActorMatchSpec {
            id: m.id.map(|ids| ids.into_iter().map(|id| id.0).collect()),
            kind: m.kind.map(|types| types.into_iter().map(Into::into).collect()),
            external_id: m.external_id,
            email: m.email,
        }
    }
}

impl From<ResourceMatch> for ResourceMatchSpec {
    fn from(m: ResourceMatch) -> Self {
        ResourceMatchSpec {
            id: m.id.map(|ids| ids.into_iter().map(|id| id.0).collect()),
            kind: m.kind,
            external_id: m.external_id,
        }
    }
}

impl From<DateTimeRange> for RangeSpec<Instant> {
    fn from(r: DateTimeRange) -> Self {
        let at = |d: Option<DateTime>| d.map(|d| Instant(d.0));
        RangeSpec { gte: at(r.gte), gt: at(r.gt), lte: at(r.lte), lt: at(r.lt) }
    }
}

impl From<BigIntRange> for RangeSpec<Int64> {
    fn from(r: BigIntRange) -> Self {
        let n = |b: Option<BigInt>| b.map(|b| Int64(b.0));
        RangeSpec { gte: n(r.gte), gt: n(r.gt), lte: n(r.lte), lt: n(r.lt) }
    }
}

impl From<IntRange> for IntRangeSpec {
    fn from(r: IntRange) -> Self {
        IntRangeSpec { gte: r.gte, lte: r.lte }
    }
}

impl From<JsonCondition> for JsonConditionSpec {
    fn from(c: JsonCondition) -> Self {
        let value = |v: Option<Json>| v.map(|v| v.0);
        JsonConditionSpec {
            path: c.path,
            eq: match c.eq {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(serde_json::Value::Null),
                MaybeUndefined::Value(v) => Some(v.0),
            },
            is_in: c.is_in.map(|l| l.into_iter().map(|v| v.0).collect()),
            gt: value(c.gt),
            gte: value(c.gte),
            lt: value(c.lt),
            lte: value(c.lte),
            prefix: c.prefix,
            exists: c.exists,
        }
    }
}

impl From<AuditEventFilter> for FilterSpec {
    fn from(f: AuditEventFilter) -> Self {
        let list = |l: Option<Vec<AuditEventFilter>>| l.map(|l| l.into_iter().map(Into::into).collect());
        FilterSpec {
            action: f.action.map(Into::into),
            category: f.category.map(Into::into),
            outcome: f.outcome.map(Into::into),
            actor: f.actor.map(Into::into),
            resource: f.resource.map(Into::into),
            related_to: f.related_to.map(Into::into),
            occurred_at: f.occurred_at.map(Into::into),
            received_at: f.received_at.map(Into::into),
            sequence: f.sequence.map(Into::into),
            environment: f.environment.map(Into::into),
            source_service: f.source_service.map(Into::into),
            correlation_id: f.correlation_id,
            request_id: f.request_id,
            ip_address: f.ip_address,
            http_status: f.http_status.map(Into::into),
            text: f.text,
            metadata: f.metadata.map(|l| l.into_iter().map(Into::into).collect()),
            changes: f.changes.map(|c| ChangeMatchSpec { field: c.field.map(Into::into) }),
            search: f.search,
            and: list(f.and),
            or: list(f.or),
            not: f.not.map(|inner| Box::new((*inner).into())),
        }
    }
}

impl AuditEventFilter {
    /// The `filter` and `query` arguments of a field, AND-ed and validated.
    pub fn combine(ctx: &async_graphql::Context<'_>, filter: Option<Self>, query: Option<&str>) -> Result<Filter> {
        use super::context::ContextExt;
        let now = ctx.session().services().store.now();
        crate::service::criteria::combine(filter.map(Into::into), query, now)
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::registry::{MetaType, Registry};

    use super::*;

    fn input_fields<T: async_graphql::InputType>() -> Vec<String> {
        let mut registry = Registry::default();
        T::create_type_info(&mut registry);
        let name = T::type_name();
        match registry.types.get(name.as_ref()) {
            Some(MetaType::InputObject { input_fields, .. }) => {
                let mut names: Vec<String> = input_fields.keys().cloned().collect();
                names.sort();
                names
            }
            _ => panic!("{name} is not an input object"),
        }
    }

    /// The GraphQL input and the domain's written form list the same fields.
    #[test]
    fn the_input_and_the_spec_have_the_same_fields() {
        let mut spec: Vec<String> = FilterSpec::FIELDS.iter().map(|s| s.to_string()).collect();
        spec.sort();
        assert_eq!(input_fields::<AuditEventFilter>(), spec);
        let keys = |value: serde_json::Value| {
            let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
            keys.sort();
            keys
        };
        let text = || Some(String::new());
        let list = || Some(Vec::new());
        assert_eq!(
            input_fields::<StringMatch>(),
            keys(
                serde_json::to_value(StringMatchSpec { eq: text(), is_in: list(), prefix: text(), not_in: list() })
                    .unwrap()
            )
        );
        assert_eq!(
            input_fields::<ActorMatch>(),
            keys(
                serde_json::to_value(ActorMatchSpec {
                    id: list(),
                    kind: Some(Vec::new()),
                    external_id: list(),
                    email: list()
                })
                .unwrap()
            )
        );
        assert_eq!(
            input_fields::<ResourceMatch>(),
            keys(serde_json::to_value(ResourceMatchSpec { id: list(), kind: list(), external_id: list() }).unwrap())
        );
        let now = Some(Instant(chrono::DateTime::UNIX_EPOCH));
        assert_eq!(
            input_fields::<DateTimeRange>(),
            keys(serde_json::to_value(RangeSpec { gte: now, gt: now, lte: now, lt: now }).unwrap())
        );
        let n = Some(Int64(1));
        assert_eq!(
            input_fields::<BigIntRange>(),
            keys(serde_json::to_value(RangeSpec { gte: n, gt: n, lte: n, lt: n }).unwrap())
        );
        assert_eq!(
            input_fields::<IntRange>(),
            keys(serde_json::to_value(IntRangeSpec { gte: Some(1), lte: Some(2) }).unwrap())
        );
    }
}

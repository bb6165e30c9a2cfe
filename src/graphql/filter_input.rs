//! The event filter of the contract (`AuditEventFilter` and its parts) and
//! its conversion into the validated domain filter. Each refusal names the
//! input path (`filter.and.2.actor.type`).

use async_graphql::{ID, InputObject};

use super::enums::{self, AuditOutcome};
use super::json_input::parse_json;
use super::scalars::{BigInt, DateTime};
use crate::domain::cursor::{OrderField, SortKey};
use crate::domain::event::{self, check};
use crate::domain::filter::{self, Budget, Condition, Filter, Range, StrField, StrTest};
use crate::domain::ids::{ActorId, ResourceId};
use crate::domain::written_filter::WrittenFilter;
use crate::error::{Error, Result};

/// Values allowed in one list of a filter.
pub const MAX_LIST_VALUES: usize = 1_000;

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
    /// Every one of these filters.
    pub and: Option<Vec<AuditEventFilter>>,
    /// At least one of these filters.
    pub or: Option<Vec<AuditEventFilter>>,
    /// Not this filter.
    pub not: Option<Box<AuditEventFilter>>,
}

/// A string a filter compares with: no NUL, and no longer than anything that
/// can be stored (longer ones could match nothing, and SQLite bounds patterns).
pub fn filter_string(path: &str, value: &str) -> Result<()> {
    check::no_nul(path, value)?;
    if value.chars().count() > event::MAX_TEXT_CHARS {
        return Err(Error::bad_input(path, format!("must be at most {} characters long", event::MAX_TEXT_CHARS)));
    }
    Ok(())
}

fn values(budget: &mut Budget, path: &str, list: Vec<String>) -> Result<Vec<String>> {
    budget.condition(path)?;
    if list.len() > MAX_LIST_VALUES {
        return Err(Error::bad_input(path, format!("at most {MAX_LIST_VALUES} values are allowed")));
    }
    for (i, v) in list.iter().enumerate() {
        filter_string(&format!("{path}.{i}"), v)?;
    }
    Ok(list)
}

fn ids<T>(budget: &mut Budget, path: &str, list: Vec<ID>, parse: fn(&str, &str) -> Result<T>) -> Result<Vec<T>> {
    let list = values(budget, path, list.into_iter().map(|id| id.0).collect())?;
    list.iter().enumerate().map(|(i, id)| parse(id, &format!("{path}.{i}"))).collect()
}

impl ActorMatch {
    pub fn into_domain(self, budget: &mut Budget, path: &str) -> Result<filter::ActorMatch> {
        let ActorMatch { id, kind, external_id, email } = self;
        let types = kind
            .map(|t| {
                budget.condition(&format!("{path}.type"))?;
                Ok::<_, Error>(t.into_iter().map(Into::into).collect())
            })
            .transpose()?;
        Ok(filter::ActorMatch {
            ids: id.map(|l| ids(budget, &format!("{path}.id"), l, ActorId::parse)).transpose()?,
            types,
            external_ids: external_id.map(|l| values(budget, &format!("{path}.externalId"), l)).transpose()?,
            emails: email.map(|l| values(budget, &format!("{path}.email"), l)).transpose()?,
        })
    }
}

impl ResourceMatch {
    pub fn into_domain(self, budget: &mut Budget, path: &str) -> Result<filter::ResourceMatch> {
        let ResourceMatch { id, kind, external_id } = self;
        Ok(filter::ResourceMatch {
            ids: id.map(|l| ids(budget, &format!("{path}.id"), l, ResourceId::parse)).transpose()?,
            types: kind.map(|l| values(budget, &format!("{path}.type"), l)).transpose()?,
            external_ids: external_id.map(|l| values(budget, &format!("{path}.externalId"), l)).transpose()?,
        })
    }
}

impl StringMatch {
    fn into_conditions(self, field: StrField, budget: &mut Budget, path: &str, out: &mut Vec<Filter>) -> Result<()> {
        let one = |budget: &mut Budget, name: &str, v: String| -> Result<String> {
            budget.condition(&format!("{path}.{name}"))?;
            filter_string(&format!("{path}.{name}"), &v)?;
            Ok(v)
        };
        if let Some(v) = self.eq {
            out.push(Filter::Cond(Condition::Str(field, StrTest::Eq(one(budget, "eq", v)?))));
        }
        if let Some(l) = self.is_in {
            out.push(Filter::Cond(Condition::Str(field, StrTest::In(values(budget, &format!("{path}.in"), l)?))));
        }
        if let Some(v) = self.prefix {
            out.push(Filter::Cond(Condition::Str(field, StrTest::Prefix(one(budget, "prefix", v)?))));
        }
        if let Some(l) = self.not_in {
            out.push(Filter::Cond(Condition::Str(field, StrTest::NotIn(values(budget, &format!("{path}.notIn"), l)?))));
        }
        Ok(())
    }
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

impl BigIntRange {
    fn into_domain(self) -> Range<SortKey> {
        Range { gte: self.gte, gt: self.gt, lte: self.lte, lt: self.lt }.map(|n| n.0)
    }
}

impl DateTimeRange {
    fn into_domain(self) -> Range<SortKey> {
        Range { gte: self.gte, gt: self.gt, lte: self.lte, lt: self.lt }.map(|d| d.0.timestamp_micros())
    }
}

impl AuditEventFilter {
    /// Converts the whole tree, refusing one deeper than 5 levels or with more
    /// than 100 conditions. `path` is where the filter sits in the arguments.
    pub fn into_domain(self, path: &str) -> Result<Filter> {
        crate::domain::filter_budget::check(&self, path)?;
        self.convert(&mut Budget::default(), path, 1)
    }

    /// Converts an optional filter argument; none matches every event.
    pub fn optional(filter: Option<Self>, path: &str) -> Result<Filter> {
        filter.map_or_else(|| Ok(Filter::all()), |f| f.into_domain(path))
    }

    /// Converts a filter written as JSON text (a query parameter, a command-line
    /// flag), for the doors outside GraphQL: the same input type, checks and budget.
    pub fn from_json_text(text: &str, path: &str) -> Result<Filter> {
        if !super::request_guard::nesting_within_bounds(text, false) {
            return Err(Error::bad_input(
                path,
                format!("nests JSON more than {} deep", super::request_guard::MAX_NESTING),
            ));
        }
        let json: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error::bad_input(path, format!("is not JSON: {e}")))?;
        Self::from_json(json, path)
    }

    /// A filter written in the API's JSON (as a viewer token stores it, or a
    /// URL carries it), validated like the argument; unknown fields are refused
    /// as GraphQL validation refuses them.
    pub fn from_json(json: serde_json::Value, path: &str) -> Result<Filter> {
        if !json.is_object() {
            return Err(Error::bad_input(path, "the filter must be a JSON object"));
        }
        parse_json::<Self>(json, path)?.into_domain(path)
    }

    /// A filter of an `and`, `or` or `not`: itself a condition, empty or not.
    fn sub_filter(self, budget: &mut Budget, path: &str, depth: usize) -> Result<Filter> {
        budget.condition(path)?;
        self.convert(budget, path, depth)
    }

    fn convert(self, budget: &mut Budget, path: &str, depth: usize) -> Result<Filter> {
        budget.depth(depth, path)?;
        let at = |name: &str| format!("{path}.{name}");
        let mut all = Vec::new();
        let cond = |budget: &mut Budget, name: &str, c: Condition| -> Result<Filter> {
            budget.condition(&format!("{path}.{name}"))?;
            Ok(Filter::Cond(c))
        };
        if let Some(m) = self.action {
            m.into_conditions(StrField::Action, budget, &at("action"), &mut all)?;
        }
        if let Some(m) = self.category {
            m.into_conditions(StrField::Category, budget, &at("category"), &mut all)?;
        }
        if let Some(o) = self.outcome {
            all.push(cond(budget, "outcome", Condition::Outcome(o.into()))?);
        }
        if let Some(m) = self.actor {
            let path = at("actor");
            budget.condition(&path)?;
            all.push(Filter::Cond(Condition::Actor(m.into_domain(budget, &path)?)));
        }
        if let Some(m) = self.resource {
            let path = at("resource");
            budget.condition(&path)?;
            all.push(Filter::Cond(Condition::Resource(m.into_domain(budget, &path)?)));
        }
        if let Some(m) = self.related_to {
            let path = at("relatedTo");
            budget.condition(&path)?;
            all.push(Filter::Cond(Condition::RelatedTo(m.into_domain(budget, &path)?)));
        }
        if let Some(r) = self.occurred_at {
            all.push(cond(budget, "occurredAt", Condition::Position(OrderField::OccurredAt, r.into_domain()))?);
        }
        if let Some(r) = self.received_at {
            all.push(cond(budget, "receivedAt", Condition::Position(OrderField::ReceivedAt, r.into_domain()))?);
        }
        if let Some(r) = self.sequence {
            all.push(cond(budget, "sequence", Condition::Position(OrderField::Sequence, r.into_domain()))?);
        }
        if let Some(m) = self.environment {
            m.into_conditions(StrField::Environment, budget, &at("environment"), &mut all)?;
        }
        if let Some(m) = self.source_service {
            m.into_conditions(StrField::SourceService, budget, &at("sourceService"), &mut all)?;
        }
        if let Some(v) = self.correlation_id {
            filter_string(&at("correlationId"), &v)?;
            all.push(cond(budget, "correlationId", Condition::CorrelationId(v))?);
        }
        if let Some(v) = self.request_id {
            filter_string(&at("requestId"), &v)?;
            all.push(cond(budget, "requestId", Condition::RequestId(v))?);
        }
        if let Some(v) = self.ip_address {
            let ip = check::ip_address(&at("ipAddress"), v)?;
            all.push(cond(budget, "ipAddress", Condition::IpAddress(ip))?);
        }
        if let Some(r) = self.http_status {
            all.push(cond(budget, "httpStatus", Condition::HttpStatus { gte: r.gte, lte: r.lte })?);
        }
        if let Some(t) = self.text {
            filter_string(&at("text"), &t)?;
            all.push(cond(budget, "text", Condition::Text(t.to_lowercase()))?);
        }
        if let Some(items) = self.and {
            let items = items
                .into_iter()
                .enumerate()
                .map(|(i, f)| f.sub_filter(budget, &format!("{path}.and.{i}"), depth + 1))
                .collect::<Result<Vec<_>>>()?;
            all.push(Filter::And(items));
        }
        if let Some(items) = self.or {
            let items = items
                .into_iter()
                .enumerate()
                .map(|(i, f)| f.sub_filter(budget, &format!("{path}.or.{i}"), depth + 1))
                .collect::<Result<Vec<_>>>()?;
            all.push(Filter::Or(items));
        }
        if let Some(inner) = self.not {
            all.push(Filter::Not(Box::new(inner.sub_filter(budget, &at("not"), depth + 1)?)));
        }
        Ok(if all.len() == 1 { all.pop().unwrap_or_else(Filter::all) } else { Filter::And(all) })
    }
}

impl WrittenFilter for AuditEventFilter {
    fn to_json(&self) -> serde_json::Value {
        fn prune(value: serde_json::Value) -> serde_json::Value {
            match value {
                serde_json::Value::Object(map) => {
                    map.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, prune(v))).collect()
                }
                serde_json::Value::Array(items) => items.into_iter().map(prune).collect(),
                other => other,
            }
        }
        prune(async_graphql::InputType::to_value(self).into_json().unwrap_or_default())
    }

    fn to_domain(&self, path: &str) -> Result<Filter> {
        self.clone().into_domain(path)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn filters_round_trip_through_json() {
        let written = json!({
            "outcome": "FAILURE",
            "actor": { "type": ["USER", "API_KEY"], "externalId": ["42"] },
            "occurredAt": { "gte": "2026-01-01T00:00:00+02:00" },
            "or": [{ "action": { "prefix": "workspace." } }, { "not": { "text": "Snapshot" } }],
        });
        let parsed = AuditEventFilter::from_json(written.clone(), "filter").unwrap();
        let input = <AuditEventFilter as async_graphql::InputType>::parse(Some(
            async_graphql::Value::from_json(written).unwrap(),
        ))
        .unwrap();
        let stored = input.to_json();
        assert_eq!(stored["actor"], json!({ "type": ["USER", "API_KEY"], "externalId": ["42"] }));
        assert_eq!(stored["occurredAt"], json!({ "gte": "2025-12-31T22:00:00Z" }));
        assert!(stored.get("category").is_none(), "unset fields are left out: {stored}");
        assert_eq!(AuditEventFilter::from_json(stored, "filter").unwrap(), parsed);
    }

    #[test]
    fn bad_json_filters_are_bad_input() {
        for bad in [json!([]), json!({ "outcome": "MAYBE" }), json!({ "actor": { "id": ["nope"] } })] {
            let err = AuditEventFilter::from_json(bad.clone(), "filter").unwrap_err();
            assert_eq!(err.code(), "BAD_USER_INPUT", "{bad}: {err}");
        }
    }
}

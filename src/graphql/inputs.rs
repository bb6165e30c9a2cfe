//! Input objects of the contract and their conversion into validated domain
//! types. Each refusal names the input path (`events.3.actor.externalId`).

use async_graphql::{ID, InputObject};

use super::enums::{self, AuditOutcome};
use super::scalars::{BigInt, DateTime, Json};
use crate::domain::event::{self, ActorSpec, FieldChange, NewEvent, RequestContext, ResourceSpec, check};
use crate::domain::filter::{self, Budget, Condition, Filter, Range, StrField, StrTest, TimeField, TimeRange};
use crate::domain::ids::{ActorId, ResourceId};
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
    fn into_domain(self) -> Range<i64> {
        Range {
            gte: self.gte.map(|n| n.0),
            gt: self.gt.map(|n| n.0),
            lte: self.lte.map(|n| n.0),
            lt: self.lt.map(|n| n.0),
        }
    }
}

impl DateTimeRange {
    fn into_domain(self) -> TimeRange {
        TimeRange {
            gte: self.gte.map(|d| d.0),
            gt: self.gt.map(|d| d.0),
            lte: self.lte.map(|d| d.0),
            lt: self.lt.map(|d| d.0),
        }
    }
}

/// Refuses fields an input object does not have, as GraphQL's validation does
/// for variables (async-graphql's coercion alone would ignore them).
fn known_fields_only(
    registry: &async_graphql::registry::Registry,
    ty: &str,
    value: &serde_json::Value,
    path: &str,
) -> Result<()> {
    use async_graphql::registry::{MetaType, MetaTypeName};
    match value {
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| known_fields_only(registry, ty, item, &format!("{path}.{i}"))),
        serde_json::Value::Object(fields) => {
            let name = MetaTypeName::concrete_typename(ty);
            let Some(MetaType::InputObject { input_fields, .. }) = registry.types.get(name) else {
                return Ok(());
            };
            for (key, field) in fields {
                let at = format!("{path}.{key}");
                let known = input_fields
                    .get(key)
                    .ok_or_else(|| Error::bad_input(&at, format!("`{name}` has no field `{key}`")))?;
                known_fields_only(registry, &known.ty, field, &at)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// An input object of the schema written as JSON (a REST body, a stored
/// filter), coerced as GraphQL coerces variables; unknown fields are refused.
pub fn parse_json<T: async_graphql::InputType>(json: serde_json::Value, path: &str) -> Result<T> {
    let mut registry = async_graphql::registry::Registry::default();
    let name = T::create_type_info(&mut registry);
    known_fields_only(&registry, &name, &json, path)?;
    let value = async_graphql::Value::from_json(json).map_err(|e| Error::bad_input(path, e.to_string()))?;
    T::parse(Some(value)).map_err(|e| Error::bad_input(path, e.into_server_error(Default::default()).message))
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

    /// The filter as the API writes it in JSON, without its unset fields.
    pub fn to_json(&self) -> serde_json::Value {
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

    /// Converts a filter written as JSON text (a query parameter, a command-line
    /// flag), for the doors outside GraphQL: the same input type, checks and budget.
    pub fn from_json_text(text: &str, path: &str) -> Result<Filter> {
        if !super::nesting_within_bounds(text, false) {
            return Err(Error::bad_input(path, format!("nests JSON more than {} deep", super::MAX_NESTING)));
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
            all.push(cond(budget, "occurredAt", Condition::Time(TimeField::OccurredAt, r.into_domain()))?);
        }
        if let Some(r) = self.received_at {
            all.push(cond(budget, "receivedAt", Condition::Time(TimeField::ReceivedAt, r.into_domain()))?);
        }
        if let Some(r) = self.sequence {
            all.push(cond(budget, "sequence", Condition::Sequence(r.into_domain()))?);
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

/// An audit event to record.
#[derive(InputObject, Clone, Debug)]
pub struct AuditEventInput {
    /// Dot-namespaced lower-case action, e.g. `workspace.snapshot.create` (1–128 characters).
    pub action: String,
    /// Whether the action succeeded.
    #[graphql(default_with = "Some(AuditOutcome::Success)")]
    pub outcome: Option<AuditOutcome>,
    /// When it happened (default: now); at most 5 minutes in the future.
    pub occurred_at: Option<DateTime>,
    /// Who did it; created on first sight, updated by later events.
    pub actor: ActorInput,
    /// The primary target.
    pub resource: Option<ResourceInput>,
    /// Other things involved (session, vm, incident…), at most 20.
    pub related_resources: Option<Vec<ResourceInput>>,
    /// A human-readable description (at most 4,096 characters).
    pub summary: Option<String>,
    /// Why it was done (at most 4,096 characters).
    pub reason: Option<String>,
    /// What went wrong, for failures (at most 4,096 characters).
    pub error_message: Option<String>,
    /// E.g. `production`, `sandbox`.
    pub environment: Option<String>,
    /// The producing service.
    pub source_service: Option<String>,
    /// Ties together events of one logical operation.
    pub correlation_id: Option<String>,
    /// The request that caused the event.
    pub request: Option<RequestContextInput>,
    /// Any further detail: a JSON object of at most 16 KiB.
    pub metadata: Option<Json>,
    /// Before/after values of what the action changed (at most 100, 64 KiB in all).
    pub changes: Option<Vec<FieldChangeInput>>,
    /// A key unique in the tenant: recording it again returns the stored event.
    pub idempotency_key: Option<String>,
}

/// A before/after value of one changed field.
#[derive(InputObject, Clone, Debug)]
pub struct FieldChangeInput {
    /// The field's name (1–255 characters).
    pub field: String,
    /// The value before the action.
    pub before: Option<Json>,
    /// The value after the action.
    pub after: Option<Json>,
}

/// Who acted. Identified by `type` and `externalId` within the tenant.
#[derive(InputObject, Clone, Debug)]
pub struct ActorInput {
    /// What kind of actor.
    #[graphql(name = "type")]
    pub kind: enums::ActorType,
    /// The producer's ID of the actor (1–255 characters).
    pub external_id: String,
    /// A name to show; omitted keeps the stored one.
    pub display_name: Option<String>,
    /// An email address; omitted keeps the stored one.
    pub email: Option<String>,
    /// Roles, at most 50; omitted keeps the stored ones.
    pub roles: Option<Vec<String>>,
}

/// A resource. Identified by `type` and `externalId` within the tenant.
#[derive(InputObject, Clone, Debug)]
pub struct ResourceInput {
    /// The kind of resource, e.g. `workspace` (1–255 characters).
    #[graphql(name = "type")]
    pub kind: String,
    /// The producer's ID of the resource (1–255 characters).
    pub external_id: String,
    /// A name to show; omitted keeps the stored one.
    pub name: Option<String>,
}

/// The request that caused an event.
#[derive(InputObject, Clone, Debug, Default)]
pub struct RequestContextInput {
    /// The request's ID.
    pub id: Option<String>,
    /// HTTP method.
    pub method: Option<String>,
    /// HTTP path.
    pub path: Option<String>,
    /// HTTP status, 100–599.
    pub status: Option<i32>,
    /// Latency in milliseconds, at least 0.
    pub latency_ms: Option<f64>,
    /// The client's IPv4 or IPv6 address; stored in canonical form.
    pub ip_address: Option<String>,
    /// The client's user agent.
    pub user_agent: Option<String>,
}

const SHORT: usize = event::MAX_ID_CHARS;
const LONG: usize = event::MAX_TEXT_CHARS;

impl ActorInput {
    fn into_domain(self, path: &str) -> Result<ActorSpec> {
        let roles = match self.roles {
            None => None,
            Some(roles) => {
                check::count(&format!("{path}.roles"), &roles, event::MAX_ROLES, "roles")?;
                Some(
                    roles
                        .into_iter()
                        .enumerate()
                        .map(|(i, r)| check::text(&format!("{path}.roles.{i}"), r, 1, SHORT))
                        .collect::<Result<Vec<_>>>()?,
                )
            }
        };
        Ok(ActorSpec {
            kind: self.kind.into(),
            external_id: check::text(&format!("{path}.externalId"), self.external_id, 1, SHORT)?,
            display_name: check::optional_text(&format!("{path}.displayName"), self.display_name, LONG)?,
            email: check::optional_text(&format!("{path}.email"), self.email, LONG)?,
            roles,
        })
    }
}

impl ResourceInput {
    fn into_domain(self, path: &str) -> Result<ResourceSpec> {
        Ok(ResourceSpec {
            kind: check::text(&format!("{path}.type"), self.kind, 1, SHORT)?,
            external_id: check::text(&format!("{path}.externalId"), self.external_id, 1, SHORT)?,
            name: check::optional_text(&format!("{path}.name"), self.name, LONG)?,
        })
    }
}

impl RequestContextInput {
    fn into_domain(self, path: &str) -> Result<RequestContext> {
        let at = |name: &str| format!("{path}.{name}");
        Ok(RequestContext {
            id: check::optional_text(&at("id"), self.id, LONG)?,
            method: check::optional_text(&at("method"), self.method, LONG)?,
            path: check::optional_text(&at("path"), self.path, LONG)?,
            status: self.status.map(|s| check::http_status(&at("status"), s)).transpose()?,
            latency_ms: self.latency_ms.map(|l| check::latency_ms(&at("latencyMs"), l)).transpose()?,
            ip_address: self.ip_address.map(|ip| check::ip_address(&at("ipAddress"), ip)).transpose()?,
            user_agent: check::optional_text(&at("userAgent"), self.user_agent, LONG)?,
        })
    }
}

impl AuditEventInput {
    /// Validates the event at `path` (e.g. `events.3`) against every rule.
    pub fn into_domain(self, path: &str, now: chrono::DateTime<chrono::Utc>) -> Result<NewEvent> {
        let at = |name: &str| format!("{path}.{name}");
        let related = self.related_resources.unwrap_or_default();
        check::count(&at("relatedResources"), &related, event::MAX_RELATED, "related resources")?;
        let changes = self.changes.unwrap_or_default();
        check::count(&at("changes"), &changes, event::MAX_CHANGES, "changes")?;
        let changes = changes
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let path = format!("{}.{i}", at("changes"));
                let change = FieldChange {
                    field: check::text(&format!("{path}.field"), c.field, 1, SHORT)?,
                    before: c.before.map(|j| j.0),
                    after: c.after.map(|j| j.0),
                };
                if let Some(before) = &change.before {
                    check::json_no_nul(&format!("{path}.before"), before)?;
                }
                if let Some(after) = &change.after {
                    check::json_no_nul(&format!("{path}.after"), after)?;
                }
                Ok(change)
            })
            .collect::<Result<Vec<_>>>()?;
        let size = check::serialized_len(&changes);
        if size > event::MAX_CHANGES_BYTES {
            return Err(Error::bad_input(
                at("changes"),
                format!("must be at most {} bytes serialised in all (got {size})", event::MAX_CHANGES_BYTES),
            ));
        }
        Ok(NewEvent {
            action: check::action(&at("action"), self.action)?,
            outcome: self.outcome.unwrap_or(AuditOutcome::Success).into(),
            occurred_at: match self.occurred_at {
                Some(t) => check::occurred_at(&at("occurredAt"), t.0, now)?,
                None => now,
            },
            actor: self.actor.into_domain(&at("actor"))?,
            resource: self.resource.map(|r| r.into_domain(&at("resource"))).transpose()?,
            related_resources: related
                .into_iter()
                .enumerate()
                .map(|(i, r)| r.into_domain(&format!("{}.{i}", at("relatedResources"))))
                .collect::<Result<Vec<_>>>()?,
            summary: check::optional_text(&at("summary"), self.summary, LONG)?,
            reason: check::optional_text(&at("reason"), self.reason, LONG)?,
            error_message: check::optional_text(&at("errorMessage"), self.error_message, LONG)?,
            environment: check::optional_text(&at("environment"), self.environment, LONG)?,
            source_service: check::producer_source(&at("sourceService"), self.source_service, LONG)?,
            correlation_id: check::optional_text(&at("correlationId"), self.correlation_id, LONG)?,
            request: self.request.map(|r| r.into_domain(&at("request"))).transpose()?,
            metadata: check::metadata(&at("metadata"), self.metadata.map(|j| j.0))?,
            changes,
            idempotency_key: self
                .idempotency_key
                .map(|k| check::text(&at("idempotencyKey"), k, 1, SHORT))
                .transpose()?,
        })
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

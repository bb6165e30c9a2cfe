//! An event filter as a caller writes it: the JSON of the contract's
//! `AuditEventFilter`, whichever door it came through (a GraphQL argument, a
//! URL parameter, a stored stream or viewer-token filter, a command-line
//! flag, a compiled query string). Unknown fields are refused. [`FilterSpec::
//! into_filter`] validates it into the domain's [`Filter`]; each refusal names
//! the input path (`filter.and.2.actor.type`).

use serde::{Deserialize, Serialize};

use super::cursor::{OrderField, SortKey};
use super::event::{self, ActorType, Outcome, check};
use super::filter::{self, Budget, Condition, Filter, Range, StrField, StrTest};
use super::filter_budget::FilterShape;
use super::ids::{ActorId, ResourceId};
use super::json_condition::JsonConditionSpec;
use super::wire::{Instant, Int64};
use crate::error::{Error, Result};

/// Values allowed in one list of a filter.
pub const MAX_LIST_VALUES: usize = 1_000;

/// Tests on a string field. Every test set must hold; case-sensitive.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StringMatchSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eq: Option<String>,
    #[serde(default, rename = "in", skip_serializing_if = "Option::is_none")]
    pub is_in: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_in: Option<Vec<String>>,
}

/// Matches actors: every field set narrows, values in one list are alternatives.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActorMatchSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Vec<String>>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<Vec<ActorType>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Vec<String>>,
}

/// Matches resources: every field set narrows, values in one list are alternatives.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceMatchSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Vec<String>>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<Vec<String>>,
}

/// Bounds on an instant or a sequence; every bound set must hold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "T: Deserialize<'de>"))]
pub struct RangeSpec<T> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gte: Option<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gt: Option<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lte: Option<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lt: Option<T>,
}

impl<T> Default for RangeSpec<T> {
    fn default() -> Self {
        RangeSpec { gte: None, gt: None, lte: None, lt: None }
    }
}

/// Bounds on an integer, both included.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntRangeSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gte: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lte: Option<i32>,
}

/// Matches an event's changes: some change must pass every test set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeMatchSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<StringMatchSpec>,
}

/// Selects audit events. Every field set narrows the result (AND); `and`,
/// `or` and `not` compose whole filters, at most 5 levels deep and 100
/// conditions in all.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FilterSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<StringMatchSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<StringMatchSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<ActorMatchSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceMatchSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related_to: Option<ResourceMatchSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<RangeSpec<Instant>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<RangeSpec<Instant>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<RangeSpec<Int64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<StringMatchSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_service: Option<StringMatchSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<IntRangeSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<JsonConditionSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<ChangeMatchSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub and: Option<Vec<FilterSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub or: Option<Vec<FilterSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not: Option<Box<FilterSpec>>,
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

fn ids<T>(budget: &mut Budget, path: &str, list: Vec<String>, parse: fn(&str, &str) -> Result<T>) -> Result<Vec<T>> {
    let list = values(budget, path, list)?;
    list.iter().enumerate().map(|(i, id)| parse(id, &format!("{path}.{i}"))).collect()
}

impl ActorMatchSpec {
    /// The validated match; `path` is where it sits.
    pub fn into_match(self, budget: &mut Budget, path: &str) -> Result<filter::ActorMatch> {
        let ActorMatchSpec { id, kind, external_id, email } = self;
        let types = kind
            .map(|t| {
                budget.condition(&format!("{path}.type"))?;
                Ok::<_, Error>(t)
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

impl ResourceMatchSpec {
    /// The validated match; `path` is where it sits.
    pub fn into_match(self, budget: &mut Budget, path: &str) -> Result<filter::ResourceMatch> {
        let ResourceMatchSpec { id, kind, external_id } = self;
        Ok(filter::ResourceMatch {
            ids: id.map(|l| ids(budget, &format!("{path}.id"), l, ResourceId::parse)).transpose()?,
            types: kind.map(|l| values(budget, &format!("{path}.type"), l)).transpose()?,
            external_ids: external_id.map(|l| values(budget, &format!("{path}.externalId"), l)).transpose()?,
        })
    }
}

impl StringMatchSpec {
    /// The validated tests, each one condition of the budget.
    fn into_tests(self, budget: &mut Budget, path: &str) -> Result<Vec<StrTest>> {
        let one = |budget: &mut Budget, name: &str, v: String| -> Result<String> {
            budget.condition(&format!("{path}.{name}"))?;
            filter_string(&format!("{path}.{name}"), &v)?;
            Ok(v)
        };
        let mut tests = Vec::new();
        if let Some(v) = self.eq {
            tests.push(StrTest::Eq(one(budget, "eq", v)?));
        }
        if let Some(l) = self.is_in {
            tests.push(StrTest::In(values(budget, &format!("{path}.in"), l)?));
        }
        if let Some(v) = self.prefix {
            tests.push(StrTest::Prefix(one(budget, "prefix", v)?));
        }
        if let Some(l) = self.not_in {
            tests.push(StrTest::NotIn(values(budget, &format!("{path}.notIn"), l)?));
        }
        Ok(tests)
    }

    fn into_conditions(self, field: StrField, budget: &mut Budget, path: &str, out: &mut Vec<Filter>) -> Result<()> {
        let tests = self.into_tests(budget, path)?;
        out.extend(tests.into_iter().map(|t| Filter::Cond(Condition::Str(field, t))));
        Ok(())
    }

    fn list_values(&self) -> usize {
        len(&self.is_in) + len(&self.not_in)
    }
}

impl RangeSpec<Instant> {
    fn into_range(self) -> Range<SortKey> {
        Range { gte: self.gte, gt: self.gt, lte: self.lte, lt: self.lt }.map(|d| d.0.timestamp_micros())
    }
}

impl RangeSpec<Int64> {
    fn into_range(self) -> Range<SortKey> {
        Range { gte: self.gte, gt: self.gt, lte: self.lte, lt: self.lt }.map(|n| n.0)
    }
}

fn len<T>(list: &Option<Vec<T>>) -> usize {
    list.as_ref().map_or(0, Vec::len)
}

impl FilterShape for FilterSpec {
    fn and_filters(&self) -> Option<&[Self]> {
        self.and.as_deref()
    }

    fn or_filters(&self) -> Option<&[Self]> {
        self.or.as_deref()
    }

    fn not_filter(&self) -> Option<&Self> {
        self.not.as_deref()
    }

    fn list_values(&self) -> usize {
        let strings: usize = [&self.action, &self.category, &self.environment, &self.source_service]
            .into_iter()
            .flatten()
            .map(StringMatchSpec::list_values)
            .sum();
        let actor = self.actor.as_ref().map_or(0, |m| len(&m.id) + len(&m.kind) + len(&m.external_id) + len(&m.email));
        let resources: usize = [&self.resource, &self.related_to]
            .into_iter()
            .flatten()
            .map(|m| len(&m.id) + len(&m.kind) + len(&m.external_id))
            .sum();
        let changes = self.changes.as_ref().and_then(|c| c.field.as_ref()).map_or(0, StringMatchSpec::list_values);
        let metadata: usize = self.metadata.iter().flatten().map(JsonConditionSpec::list_values).sum();
        strings + actor + resources + changes + metadata
    }

    fn conditions(&self) -> usize {
        self.metadata.as_ref().map_or(0, Vec::len)
    }
}

impl FilterSpec {
    /// The names of every field, as the contract writes them (a test keeps
    /// this list, the struct and the GraphQL input type equal).
    pub const FIELDS: [&'static str; 22] = [
        "action",
        "category",
        "outcome",
        "actor",
        "resource",
        "relatedTo",
        "occurredAt",
        "receivedAt",
        "sequence",
        "environment",
        "sourceService",
        "correlationId",
        "requestId",
        "ipAddress",
        "httpStatus",
        "text",
        "metadata",
        "changes",
        "search",
        "and",
        "or",
        "not",
    ];

    /// A filter written in JSON (a stored filter, a URL parameter), with
    /// unknown fields refused; refusals name `path`.
    pub fn from_json(json: serde_json::Value, path: &str) -> Result<FilterSpec> {
        if !json.is_object() {
            return Err(Error::bad_input(path, "the filter must be a JSON object"));
        }
        super::wire::decode(json, path)
    }

    /// A stored filter (a stream's, a viewer token's) read back into the domain's.
    pub fn read_stored(json: serde_json::Value, path: &str) -> Result<Filter> {
        Self::from_json(json, path)?.into_filter(path)
    }

    /// A filter written as JSON text (a query parameter, a command-line flag).
    pub fn from_json_text(text: &str, path: &str) -> Result<FilterSpec> {
        if !super::nesting::within_bounds(text, false) {
            return Err(Error::bad_input(path, format!("nests JSON more than {} deep", super::nesting::MAX_NESTING)));
        }
        let json: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error::bad_input(path, format!("is not JSON: {e}")))?;
        Self::from_json(json, path)
    }

    /// The filter in the contract's JSON, without unset fields: what is
    /// stored and shown back.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_else(|_| serde_json::Value::Object(Default::default()))
    }

    /// Validates the whole tree, refusing one deeper than 5 levels or with
    /// more than 100 conditions. `path` is where the filter sits.
    pub fn into_filter(self, path: &str) -> Result<Filter> {
        super::filter_budget::check(&self, path)?;
        self.convert(&mut Budget::default(), path, 1)
    }

    /// Validates an optional filter; none matches every event.
    pub fn optional(filter: Option<Self>, path: &str) -> Result<Filter> {
        filter.map_or_else(|| Ok(Filter::all()), |f| f.into_filter(path))
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
            all.push(cond(budget, "outcome", Condition::Outcome(o))?);
        }
        if let Some(m) = self.actor {
            let path = at("actor");
            budget.condition(&path)?;
            all.push(Filter::Cond(Condition::Actor(m.into_match(budget, &path)?)));
        }
        if let Some(m) = self.resource {
            let path = at("resource");
            budget.condition(&path)?;
            all.push(Filter::Cond(Condition::Resource(m.into_match(budget, &path)?)));
        }
        if let Some(m) = self.related_to {
            let path = at("relatedTo");
            budget.condition(&path)?;
            all.push(Filter::Cond(Condition::RelatedTo(m.into_match(budget, &path)?)));
        }
        if let Some(r) = self.occurred_at {
            all.push(cond(budget, "occurredAt", Condition::Position(OrderField::OccurredAt, r.into_range()))?);
        }
        if let Some(r) = self.received_at {
            all.push(cond(budget, "receivedAt", Condition::Position(OrderField::ReceivedAt, r.into_range()))?);
        }
        if let Some(r) = self.sequence {
            all.push(cond(budget, "sequence", Condition::Position(OrderField::Sequence, r.into_range()))?);
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
        if let Some(list) = self.metadata {
            for (i, c) in list.into_iter().enumerate() {
                let path = format!("{path}.metadata.{i}");
                budget.condition(&path)?;
                all.push(Filter::Cond(Condition::Metadata(c.into_condition(&path)?)));
            }
        }
        if let Some(m) = self.changes {
            let path = at("changes");
            budget.condition(&path)?;
            let tests = m.field.map(|f| f.into_tests(budget, &format!("{path}.field"))).transpose()?;
            all.push(Filter::Cond(Condition::Changes(tests.unwrap_or_default())));
        }
        if let Some(s) = self.search {
            let path = at("search");
            filter_string(&path, &s)?;
            budget.condition(&path)?;
            all.push(Filter::Cond(Condition::Search(super::words::terms(&path, &s)?)));
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
            "sequence": { "gt": 5 },
            "or": [{ "action": { "prefix": "workspace." } }, { "not": { "text": "Snapshot" } }],
        });
        let spec = FilterSpec::from_json(written, "filter").unwrap();
        let stored = spec.to_json();
        assert_eq!(stored["actor"], json!({ "type": ["USER", "API_KEY"], "externalId": ["42"] }));
        assert_eq!(stored["occurredAt"], json!({ "gte": "2025-12-31T22:00:00Z" }));
        assert_eq!(stored["sequence"], json!({ "gt": "5" }));
        assert!(stored.get("category").is_none(), "unset fields are left out: {stored}");
        let again = FilterSpec::from_json(stored, "filter").unwrap();
        assert_eq!(again, spec);
        assert_eq!(again.into_filter("filter").unwrap(), spec.into_filter("filter").unwrap());
    }

    #[test]
    fn bad_json_filters_are_bad_input_at_their_path() {
        for (bad, at) in [
            (json!([]), "filter"),
            (json!({ "outcome": "MAYBE" }), "filter.outcome"),
            (json!({ "actor": { "id": ["nope"] } }), "filter.actor.id.0"),
            (json!({ "or": [{}, { "colour": "red" }] }), "filter.or.1.colour"),
        ] {
            let err = FilterSpec::from_json(bad.clone(), "filter").and_then(|f| f.into_filter("filter")).unwrap_err();
            match err {
                Error::BadInput { path, .. } => assert_eq!(path, at, "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn every_field_is_listed() {
        let range = || Some(RangeSpec { gte: None, gt: None, lte: None, lt: None });
        let full = FilterSpec {
            action: Some(StringMatchSpec::default()),
            category: Some(StringMatchSpec::default()),
            outcome: Some(Outcome::Success),
            actor: Some(ActorMatchSpec::default()),
            resource: Some(ResourceMatchSpec::default()),
            related_to: Some(ResourceMatchSpec::default()),
            occurred_at: range(),
            received_at: range(),
            sequence: Some(RangeSpec::default()),
            environment: Some(StringMatchSpec::default()),
            source_service: Some(StringMatchSpec::default()),
            correlation_id: Some(String::new()),
            request_id: Some(String::new()),
            ip_address: Some(String::new()),
            http_status: Some(IntRangeSpec::default()),
            text: Some(String::new()),
            metadata: Some(Vec::new()),
            changes: Some(ChangeMatchSpec::default()),
            search: Some(String::new()),
            and: Some(Vec::new()),
            or: Some(Vec::new()),
            not: Some(Box::default()),
        };
        let json = full.to_json();
        let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        let mut listed = FilterSpec::FIELDS.to_vec();
        keys.sort_unstable();
        listed.sort_unstable();
        assert_eq!(keys, listed);
    }
}

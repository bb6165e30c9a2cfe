//! Query strings (`action:workspace.* -outcome:failure metadata.size_gb:>10`)
//! compiled to the written filter ([`FilterSpec`]) that typed input becomes,
//! so every bound and confinement applies unchanged. The grammar is in
//! [`syntax`]; this module gives each field its meaning. Every refusal is
//! `BAD_USER_INPUT` with the 1-based character where the query went wrong.

mod syntax;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Map, Value};

use self::syntax::{Node, Op, Term};
use super::event::ActorType;
use super::filter_spec::{
    ActorMatchSpec, ChangeMatchSpec, FilterSpec, IntRangeSpec, RangeSpec, ResourceMatchSpec, StringMatchSpec,
};
use super::json_condition::{JsonConditionSpec, parse_path};
use super::wire::{Instant, Int64};
use crate::error::{Error, Result};

/// Characters a query may have.
pub const MAX_QUERY_CHARS: usize = 4_096;

/// A query being compiled: its text (for positions), where it sits, and now.
struct Compiler<'a> {
    query: &'a str,
    path: &'a str,
    now: DateTime<Utc>,
}

/// Compiles `query` (found at input `path`) into the filter it means; `now`
/// is the instant relative times (`-7d`) count back from.
pub fn compile(query: &str, path: &str, now: DateTime<Utc>) -> Result<FilterSpec> {
    if query.chars().nth(MAX_QUERY_CHARS).is_some() {
        return Err(Error::bad_query(
            path,
            MAX_QUERY_CHARS + 1,
            format!("a query has at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    if query.contains('\0') {
        let at = query.find('\0').unwrap_or(0);
        let c = Compiler { query, path, now };
        return Err(c.error(at, "a query must not contain a NUL character"));
    }
    let c = Compiler { query, path, now };
    if query.trim().is_empty() {
        return Ok(FilterSpec::default());
    }
    let tree = syntax::parse(query).map_err(|e| c.error(e.offset, e.message))?;
    c.node(tree)
}

impl Compiler<'_> {
    fn error(&self, offset: usize, message: impl Into<String>) -> Error {
        let position = self.query.get(..offset).map_or(offset, |s| s.chars().count()) + 1;
        Error::bad_query(self.path, position, message)
    }

    fn node(&self, node: Node) -> Result<FilterSpec> {
        match node {
            Node::Term(t) => self.term(t),
            Node::Not(inner) => Ok(FilterSpec { not: Some(Box::new(self.node(*inner)?)), ..FilterSpec::default() }),
            Node::Or(items) => Ok(FilterSpec {
                or: Some(items.into_iter().map(|n| self.node(n)).collect::<Result<_>>()?),
                ..FilterSpec::default()
            }),
            Node::And(items) => {
                let specs = items.into_iter().map(|n| self.node(n)).collect::<Result<Vec<_>>>()?;
                Ok(all_of(specs))
            }
        }
    }

    fn term(&self, t: Term) -> Result<FilterSpec> {
        let Some((field, field_at)) = t.field.clone() else {
            // A bare word or phrase is a `search` term.
            let term = if t.quoted { format!("\"{}\"", t.value.replace('"', " ")) } else { t.value };
            return Ok(FilterSpec { search: Some(term), ..FilterSpec::default() });
        };
        let no_op = |spec: FilterSpec| match t.op {
            Some(op) => {
                let width = if matches!(op, Op::Gte | Op::Lte) { 2 } else { 1 };
                Err(self.error(t.at - width, format!("`{field}` takes no comparison")))
            }
            None => Ok(spec),
        };
        let one = || vec![t.value.clone()];
        let spec = FilterSpec::default();
        match field.as_str() {
            "action" => no_op(FilterSpec { action: Some(self.string_match(&t)), ..spec }),
            "category" => no_op(FilterSpec { category: Some(self.string_match(&t)), ..spec }),
            "environment" => no_op(FilterSpec { environment: Some(self.string_match(&t)), ..spec }),
            "source" => no_op(FilterSpec { source_service: Some(self.string_match(&t)), ..spec }),
            "outcome" => {
                let outcome = serde_json::from_value(Value::String(t.value.to_uppercase()))
                    .map_err(|_| self.error(t.at, "an outcome is `success` or `failure`"))?;
                no_op(FilterSpec { outcome: Some(outcome), ..spec })
            }
            "actor" => no_op(actor(ActorMatchSpec { external_id: Some(one()), ..Default::default() })),
            "actor.type" => {
                let kind: ActorType = serde_json::from_value(Value::String(t.value.to_uppercase()))
                    .map_err(|_| self.error(t.at, format!("`{}` is not an actor type", t.value)))?;
                no_op(actor(ActorMatchSpec { kind: Some(vec![kind]), ..Default::default() }))
            }
            "actor.email" => no_op(actor(ActorMatchSpec { email: Some(one()), ..Default::default() })),
            "actor.id" => no_op(actor(ActorMatchSpec { id: Some(one()), ..Default::default() })),
            "resource" | "resource.type" | "resource.id" => {
                no_op(FilterSpec { resource: Some(resource(&field, one())), ..spec })
            }
            "related" | "related.type" | "related.id" => {
                no_op(FilterSpec { related_to: Some(resource(&field, one())), ..spec })
            }
            "correlation" => no_op(FilterSpec { correlation_id: Some(t.value), ..spec }),
            "request" => no_op(FilterSpec { request_id: Some(t.value), ..spec }),
            "ip" => no_op(FilterSpec { ip_address: Some(t.value), ..spec }),
            "text" => no_op(FilterSpec { text: Some(t.value), ..spec }),
            "status" => Ok(FilterSpec { http_status: Some(self.status(&t)?), ..spec }),
            "occurred" => Ok(FilterSpec { occurred_at: Some(self.instants(&t)?), ..spec }),
            "received" => Ok(FilterSpec { received_at: Some(self.instants(&t)?), ..spec }),
            "sequence" => Ok(FilterSpec { sequence: Some(self.sequence(&t)?), ..spec }),
            "changes.field" => {
                no_op(FilterSpec { changes: Some(ChangeMatchSpec { field: Some(self.string_match(&t)) }), ..spec })
            }
            _ => match field.strip_prefix("metadata.") {
                Some(path) => {
                    parse_path("", path).map_err(|e| match e {
                        Error::BadInput { message, .. } => self.error(field_at + "metadata.".len(), message),
                        other => other,
                    })?;
                    Ok(FilterSpec { metadata: Some(vec![self.metadata(path, &t)?]), ..spec })
                }
                None => Err(self.error(field_at, format!("`{field}` is not a field a query can use"))),
            },
        }
    }

    /// `eq`, or `prefix` for an unquoted value ending in `*`.
    fn string_match(&self, t: &Term) -> StringMatchSpec {
        match t.value.strip_suffix('*') {
            Some(prefix) if !t.quoted => StringMatchSpec { prefix: Some(prefix.to_string()), ..Default::default() },
            _ => StringMatchSpec { eq: Some(t.value.clone()), ..Default::default() },
        }
    }

    fn status(&self, t: &Term) -> Result<IntRangeSpec> {
        let n: i32 = t.value.parse().map_err(|_| self.error(t.at, format!("`{}` is not an HTTP status", t.value)))?;
        let past = |n: Option<i32>| n.ok_or_else(|| self.error(t.at, "the status is out of range"));
        Ok(match t.op {
            None => IntRangeSpec { gte: Some(n), lte: Some(n) },
            Some(Op::Gte) => IntRangeSpec { gte: Some(n), lte: None },
            Some(Op::Gt) => IntRangeSpec { gte: Some(past(n.checked_add(1))?), lte: None },
            Some(Op::Lte) => IntRangeSpec { gte: None, lte: Some(n) },
            Some(Op::Lt) => IntRangeSpec { gte: None, lte: Some(past(n.checked_sub(1))?) },
        })
    }

    fn sequence(&self, t: &Term) -> Result<RangeSpec<Int64>> {
        let n = super::wire::parse_int64(&t.value)
            .ok_or_else(|| self.error(t.at, format!("`{}` is not a sequence number", t.value)))?;
        Ok(range(t.op, Int64(n), Int64(n)))
    }

    /// A date (its midnight, UTC; alone, the whole day), an RFC 3339
    /// instant, or `-N` minutes, hours or days before now.
    fn instants(&self, t: &Term) -> Result<RangeSpec<Instant>> {
        let v = t.value.as_str();
        let bad = || self.error(t.at, format!("`{v}` is not a date, an RFC 3339 instant or a time ago like -7d"));
        if let Some(ago) = v.strip_prefix('-') {
            let (n, unit) = ago.split_at(ago.len().saturating_sub(1));
            let n: i64 = n.parse().map_err(|_| bad())?;
            let span = match unit {
                "m" => Duration::try_minutes(n),
                "h" => Duration::try_hours(n),
                "d" => Duration::try_days(n),
                _ => None,
            };
            let at = span.and_then(|s| self.now.checked_sub_signed(s)).ok_or_else(bad)?;
            return Ok(range(t.op, Instant(at), Instant(at)));
        }
        if let Ok(day) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
            let start = day.and_hms_opt(0, 0, 0).ok_or_else(bad)?.and_utc();
            if t.op.is_none() {
                let end = start.checked_add_signed(Duration::days(1)).ok_or_else(bad)?;
                return Ok(RangeSpec { gte: Some(Instant(start)), lt: Some(Instant(end)), ..Default::default() });
            }
            return Ok(range(t.op, Instant(start), Instant(start)));
        }
        let at = super::wire::parse_instant(v).map_err(|_| bad())?;
        Ok(range(t.op, Instant(at), Instant(at)))
    }

    /// A bare value that reads as a JSON number, `true`, `false` or `null` is
    /// that value, a quoted one a string; `*` alone means exists, `fr*` prefix.
    fn metadata(&self, path: &str, t: &Term) -> Result<JsonConditionSpec> {
        let mut c = JsonConditionSpec { path: path.to_string(), ..Default::default() };
        let value = match (t.quoted, t.value.as_str()) {
            (true, v) => Value::String(v.to_string()),
            (false, "*") if t.op.is_none() => {
                c.exists = Some(true);
                return Ok(c);
            }
            (false, v) => match serde_json::from_str::<Value>(v) {
                Ok(scalar @ (Value::Number(_) | Value::Bool(_) | Value::Null)) => scalar,
                _ => match v.strip_suffix('*') {
                    Some(prefix) if t.op.is_none() => {
                        c.prefix = Some(prefix.to_string());
                        return Ok(c);
                    }
                    _ => Value::String(v.to_string()),
                },
            },
        };
        match t.op {
            None => c.eq = Some(value),
            Some(op) if matches!(value, Value::Number(_) | Value::String(_)) => match op {
                Op::Gt => c.gt = Some(value),
                Op::Gte => c.gte = Some(value),
                Op::Lt => c.lt = Some(value),
                Op::Lte => c.lte = Some(value),
            },
            Some(_) => return Err(self.error(t.at, "a range compares with a number or a string")),
        }
        Ok(c)
    }
}

fn actor(m: ActorMatchSpec) -> FilterSpec {
    FilterSpec { actor: Some(m), ..FilterSpec::default() }
}

fn resource(field: &str, one: Vec<String>) -> ResourceMatchSpec {
    match field.split_once('.').map(|(_, f)| f) {
        Some("type") => ResourceMatchSpec { kind: Some(one), ..Default::default() },
        Some("id") => ResourceMatchSpec { id: Some(one), ..Default::default() },
        _ => ResourceMatchSpec { external_id: Some(one), ..Default::default() },
    }
}

fn range<T>(op: Option<Op>, low: T, high: T) -> RangeSpec<T> {
    match op {
        None => RangeSpec { gte: Some(low), lte: Some(high), ..Default::default() },
        Some(Op::Gt) => RangeSpec { gt: Some(low), ..Default::default() },
        Some(Op::Gte) => RangeSpec { gte: Some(low), ..Default::default() },
        Some(Op::Lt) => RangeSpec { lt: Some(high), ..Default::default() },
        Some(Op::Lte) => RangeSpec { lte: Some(high), ..Default::default() },
    }
}

/// Fields whose tests on one object all apply to one thing (the event's
/// action, its one actor, …), so two of them merge into one.
const MERGEABLE: [&str; 10] = [
    "action",
    "category",
    "environment",
    "sourceService",
    "occurredAt",
    "receivedAt",
    "sequence",
    "httpStatus",
    "actor",
    "resource",
];

/// Every one of `specs`: merged into one filter where that means the same
/// (so a person sees one chip per field), the rest under `and`.
pub fn all_of(specs: Vec<FilterSpec>) -> FilterSpec {
    let mut merged = Map::new();
    let mut rest = Vec::new();
    for spec in specs {
        let Value::Object(fields) = spec.to_json() else { continue };
        match merge(&merged, &fields) {
            Some(m) => merged = m,
            None => rest.push(spec),
        }
    }
    let mut out = FilterSpec::from_json(Value::Object(merged), "").unwrap_or_default();
    if !rest.is_empty() {
        out.and.get_or_insert_with(Vec::new).extend(rest);
    }
    out
}

/// `a` and `b` as one filter, or `None` where they cannot be one.
fn merge(a: &Map<String, Value>, b: &Map<String, Value>) -> Option<Map<String, Value>> {
    let mut out = a.clone();
    for (key, value) in b {
        let Some(existing) = out.get(key) else {
            out.insert(key.clone(), value.clone());
            continue;
        };
        let joined = match (key.as_str(), existing, value) {
            ("metadata" | "and", Value::Array(x), Value::Array(y)) => {
                Value::Array(x.iter().chain(y).cloned().collect())
            }
            ("search", Value::String(x), Value::String(y)) => Value::String(format!("{x} {y}")),
            (key, Value::Object(x), Value::Object(y)) if MERGEABLE.contains(&key) => {
                // Both tests on the one thing; a test set twice cannot be.
                if y.keys().any(|k| x.contains_key(k)) {
                    return None;
                }
                Value::Object(x.iter().chain(y).map(|(k, v)| (k.clone(), v.clone())).collect())
            }
            _ => return None,
        };
        out.insert(key.clone(), joined);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-03-10T12:00:00Z".parse().unwrap()
    }

    fn json(q: &str) -> Value {
        compile(q, "query", now()).unwrap().to_json()
    }

    fn position(q: &str) -> usize {
        match compile(q, "query", now()) {
            Err(Error::BadInput { position: Some(p), path, .. }) => {
                assert_eq!(path, "query");
                p
            }
            other => panic!("{q}: {other:?}"),
        }
    }

    #[test]
    fn the_contracts_example() {
        assert_eq!(
            json("action:workspace.* -outcome:failure metadata.size_gb:>10"),
            json!({
                "action": { "prefix": "workspace." },
                "not": { "outcome": "FAILURE" },
                "metadata": [{ "path": "size_gb", "gt": 10 }],
            })
        );
    }

    #[test]
    fn fields_mean_what_the_table_says() {
        assert_eq!(json("status:>=500 status:<600"), json!({ "httpStatus": { "gte": 500, "lte": 599 } }));
        assert_eq!(json("occurred:>-7d"), json!({ "occurredAt": { "gt": "2026-03-03T12:00:00Z" } }));
        assert_eq!(
            json("occurred:2026-01-01"),
            json!({ "occurredAt": { "gte": "2026-01-01T00:00:00Z", "lt": "2026-01-02T00:00:00Z" } })
        );
        assert_eq!(json("actor.type:user actor:42"), json!({ "actor": { "type": ["USER"], "externalId": ["42"] } }));
        assert_eq!(
            json(r#"metadata.plan:"10" metadata.x:* metadata.n:null metadata.p:fr* disk "out of""#),
            json!({
                "metadata": [
                    { "path": "plan", "eq": "10" },
                    { "path": "x", "exists": true },
                    { "path": "n", "eq": null },
                    { "path": "p", "prefix": "fr" },
                ],
                "search": "disk \"out of\"",
            })
        );
        assert_eq!(json("a OR b"), json!({ "or": [{ "search": "a" }, { "search": "b" }] }));
        assert_eq!(
            json("action:a* action:b*"),
            json!({ "action": { "prefix": "a" }, "and": [{ "action": { "prefix": "b" } }] })
        );
        assert_eq!(json("changes.field:role"), json!({ "changes": { "field": { "eq": "role" } } }));
    }

    #[test]
    fn errors_have_positions() {
        assert_eq!(position("action:x colour:red"), 10);
        assert_eq!(position("é (a"), 5);
        assert_eq!(position("outcome:maybe"), 9);
        assert_eq!(position("status:>abc"), 9);
        assert_eq!(position("metadata.a..b:1"), 10);
        assert_eq!(position(&"a ".repeat(2_049)), MAX_QUERY_CHARS + 1);
    }
}

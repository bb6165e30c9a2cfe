//! The filter flags as one `AuditEventFilter` (JSON), the same for
//! `auditEvents` and `auditEventRecorded`. The server validates it; here only
//! what the flags themselves say (JSON, times) is checked.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::args::FilterArgs;
use super::error::ClientError;

/// The filter the flags describe, `None` for every event. `--filter` is sent
/// as written, so the server's error paths (`filter.…`) point into it; each
/// other flag adds a condition beside it, or under its `and` when `--filter`
/// already sets that field.
pub fn from_args(args: &FilterArgs, now: DateTime<Utc>) -> Result<Option<Value>, ClientError> {
    let mut filter = match args.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(ClientError::Usage("--filter: an AuditEventFilter is a JSON object".into())),
            Err(e) => return Err(ClientError::Usage(format!("--filter: not JSON: {e}"))),
        },
        None => Map::new(),
    };
    for (field, condition) in conditions(args, now)? {
        if filter.contains_key(field) {
            let and = filter.entry("and").or_insert_with(|| Value::Array(Vec::new()));
            let Value::Array(and) = and else {
                return Err(ClientError::Usage("--filter: `and` must be a list of filters".into()));
            };
            and.push(json!({ field: condition }));
        } else {
            filter.insert(field.to_string(), condition);
        }
    }
    Ok((!filter.is_empty()).then_some(Value::Object(filter)))
}

/// The flags' conditions, field by field (a flag given twice over one field,
/// like `--action` and `--action-prefix`, gives that field twice).
fn conditions(args: &FilterArgs, now: DateTime<Utc>) -> Result<Vec<(&'static str, Value)>, ClientError> {
    let mut out = Vec::new();
    let any_of = |values: &[String]| (!values.is_empty()).then(|| json!({ "in": values }));
    if let Some(c) = any_of(&args.action) {
        out.push(("action", c));
    }
    if let Some(prefix) = &args.action_prefix {
        out.push(("action", json!({ "prefix": prefix })));
    }
    if let Some(c) = any_of(&args.category) {
        out.push(("category", c));
    }
    if let Some(outcome) = args.outcome {
        out.push(("outcome", json!(outcome.as_str())));
    }
    let mut actor = Map::new();
    if !args.actor.is_empty() {
        actor.insert("externalId".into(), json!(args.actor));
    }
    if !args.actor_type.is_empty() {
        actor.insert("type".into(), args.actor_type.iter().map(|t| json!(t.as_str())).collect());
    }
    if !actor.is_empty() {
        out.push(("actor", Value::Object(actor)));
    }
    let mut resource = Map::new();
    if !args.resource.is_empty() {
        resource.insert("externalId".into(), json!(args.resource));
    }
    if !args.resource_type.is_empty() {
        resource.insert("type".into(), json!(args.resource_type));
    }
    if !resource.is_empty() {
        out.push(("resource", Value::Object(resource)));
    }
    if let Some(c) = any_of(&args.environment) {
        out.push(("environment", c));
    }
    if let Some(text) = &args.text {
        out.push(("text", json!(text)));
    }
    let mut occurred = Map::new();
    if let Some(since) = &args.since {
        occurred.insert("gte".into(), json!(instant(since, "--since", now)?));
    }
    if let Some(until) = &args.until {
        occurred.insert("lt".into(), json!(instant(until, "--until", now)?));
    }
    if !occurred.is_empty() {
        out.push(("occurredAt", Value::Object(occurred)));
    }
    Ok(out)
}

/// An RFC 3339 instant, or a duration before `now`.
fn instant(text: &str, flag: &str, now: DateTime<Utc>) -> Result<String, ClientError> {
    let at = match DateTime::parse_from_rfc3339(text.trim()) {
        Ok(at) => at.with_timezone(&Utc),
        Err(_) => humantime::parse_duration(text.trim())
            .ok()
            .and_then(|ago| chrono::Duration::from_std(ago).ok())
            .and_then(|ago| now.checked_sub_signed(ago))
            .ok_or_else(|| {
                ClientError::Usage(format!(
                    "{flag}: `{text}` is neither an RFC 3339 time (2024-05-01T12:00:00Z) nor a duration ago (15m, 2h, 7d)"
                ))
            })?,
    };
    Ok(at.to_rfc3339_opts(SecondsFormat::Micros, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::{ActorType, Outcome};

    fn now() -> DateTime<Utc> {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn no_flags_no_filter() {
        assert_eq!(from_args(&FilterArgs::default(), now()).unwrap(), None);
        let blank = FilterArgs { filter: Some("  ".into()), ..Default::default() };
        assert_eq!(from_args(&blank, now()).unwrap(), None);
    }

    #[test]
    fn flags_become_conditions() {
        let args = FilterArgs {
            action: vec!["a.b".into(), "a.c".into()],
            outcome: Some(Outcome::Failure),
            actor: vec!["u-1".into()],
            actor_type: vec![ActorType::ApiKey],
            resource_type: vec!["vm".into()],
            since: Some("2h".into()),
            until: Some("2024-05-01T13:00:00+01:00".into()),
            ..Default::default()
        };
        assert_eq!(
            from_args(&args, now()).unwrap().unwrap(),
            json!({
                "action": { "in": ["a.b", "a.c"] },
                "outcome": "FAILURE",
                "actor": { "externalId": ["u-1"], "type": ["API_KEY"] },
                "resource": { "type": ["vm"] },
                "occurredAt": { "gte": "2024-05-01T10:00:00.000000Z", "lt": "2024-05-01T12:00:00.000000Z" },
            })
        );
    }

    #[test]
    fn flags_narrow_the_json_filter() {
        let args = FilterArgs {
            filter: Some(r#"{"action": {"prefix": "vm."}, "and": [{"environment": {"eq": "prod"}}]}"#.into()),
            action: vec!["vm.start".into()],
            action_prefix: Some("vm.s".into()),
            text: Some("boot".into()),
            ..Default::default()
        };
        assert_eq!(
            from_args(&args, now()).unwrap().unwrap(),
            json!({
                "action": { "prefix": "vm." },
                "and": [
                    { "environment": { "eq": "prod" } },
                    { "action": { "in": ["vm.start"] } },
                    { "action": { "prefix": "vm.s" } },
                ],
                "text": "boot",
            })
        );
    }

    #[test]
    fn refuses_what_the_flags_cannot_mean() {
        for (args, flag) in [
            (FilterArgs { filter: Some("{".into()), ..Default::default() }, "--filter: not JSON"),
            (FilterArgs { filter: Some("[]".into()), ..Default::default() }, "--filter: an AuditEventFilter"),
            (FilterArgs { since: Some("yesterday".into()), ..Default::default() }, "--since: `yesterday`"),
            (FilterArgs { until: Some("".into()), ..Default::default() }, "--until"),
        ] {
            let err = from_args(&args, now()).unwrap_err().to_string();
            assert!(err.starts_with(flag), "{err}");
        }
    }
}

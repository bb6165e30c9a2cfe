//! The contract's search semantics, implemented again over the events as
//! they were sent: which of them a `JsonCondition`, a `ChangeMatch` or a
//! `search` selects. Written from the contract, sharing no code with the
//! server.

use serde_json::Value;

/// The value at a dot path: keys of objects, and digit segments index arrays.
pub fn at<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(root, |v, segment| match v {
        Value::Object(map) => map.get(segment),
        Value::Array(items) if segment.bytes().all(|b| b.is_ascii_digit()) => {
            segment.parse::<usize>().ok().and_then(|i| items.get(i))
        }
        _ => None,
    })
}

/// Equal by JSON type and value: numbers numerically, containers structurally.
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        (a, b) => a == b,
    }
}

/// `value op bound`, only for values of the bound's type.
fn compares(value: &Value, op: &str, bound: &Value) -> bool {
    let ordering = match (value, bound) {
        (Value::Number(v), Value::Number(b)) => v.as_f64().unwrap().partial_cmp(&b.as_f64().unwrap()),
        // Code point order is the order of `str`.
        (Value::String(v), Value::String(b)) => Some(v.as_str().cmp(b.as_str())),
        _ => None,
    };
    let Some(o) = ordering else { return false };
    match op {
        "gt" => o.is_gt(),
        "gte" => o.is_ge(),
        "lt" => o.is_lt(),
        "lte" => o.is_le(),
        _ => unreachable!("{op}"),
    }
}

/// Whether the event's metadata passes a `JsonCondition` (as JSON input).
pub fn json_condition(metadata: &Value, condition: &Value) -> bool {
    let path = condition["path"].as_str().unwrap();
    let found = at(metadata, path);
    condition.as_object().unwrap().iter().filter(|(k, _)| *k != "path").all(|(op, arg)| match op.as_str() {
        "eq" => found.is_some_and(|v| same(v, arg)),
        "in" => found.is_some_and(|v| arg.as_array().unwrap().iter().any(|a| same(v, a))),
        "gt" | "gte" | "lt" | "lte" => found.is_some_and(|v| compares(v, op, arg)),
        "prefix" => found.and_then(Value::as_str).is_some_and(|s| s.starts_with(arg.as_str().unwrap())),
        "exists" => found.is_some() == arg.as_bool().unwrap(),
        other => unreachable!("{other}"),
    })
}

/// Whether a string passes a `StringMatch` (as JSON input).
fn string_match(s: &str, m: &Value) -> bool {
    let list = |v: &Value| v.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect::<Vec<_>>();
    m.as_object().unwrap().iter().all(|(op, arg)| match op.as_str() {
        "eq" => arg == s,
        "in" => list(arg).iter().any(|x| x == s),
        "prefix" => s.starts_with(arg.as_str().unwrap()),
        "notIn" => !list(arg).iter().any(|x| x == s),
        other => unreachable!("{other}"),
    })
}

/// Whether some change of the event passes a `ChangeMatch`.
pub fn change_match(changes: &Value, m: &Value) -> bool {
    let empty = Value::Object(Default::default());
    let field = m.get("field").unwrap_or(&empty);
    changes.as_array().into_iter().flatten().any(|c| string_match(c["field"].as_str().unwrap(), field))
}

/// The tokens of a text: maximal runs of letters and digits, lower-cased (the
/// corpus holds no letter whose simple case fold differs from that).
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if c.is_alphabetic() || c.is_numeric() {
            current.push(c);
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current).to_lowercase());
        }
    }
    if !current.is_empty() {
        out.push(current.to_lowercase());
    }
    out
}

/// The texts of an event input that `search` looks in.
pub fn texts(event: &Value) -> Vec<String> {
    fn strings(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
            Value::Object(map) => map.values().for_each(|i| strings(i, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for key in ["action", "summary", "reason", "errorMessage"] {
        if let Some(s) = event[key].as_str() {
            out.push(s.to_string());
        }
    }
    for r in std::iter::once(&event["resource"]).chain(event["relatedResources"].as_array().into_iter().flatten()) {
        if let Some(name) = r["name"].as_str() {
            out.push(name.to_string());
        }
    }
    strings(&event["metadata"], &mut out);
    out
}

/// Whether an event matches a `search`: every term (a word, `word*`, or a
/// `"phrase"`) is found in one of its texts.
pub fn search(event: &Value, search: &str) -> bool {
    let texts: Vec<Vec<String>> = texts(event).iter().map(|t| tokens(t)).collect();
    let mut terms: Vec<(Vec<String>, bool)> = Vec::new();
    let mut rest = search;
    while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
        rest = &rest[start..];
        if let Some(body) = rest.strip_prefix('"') {
            let end = body.find('"').unwrap();
            terms.push((tokens(&body[..end]), false));
            rest = &body[end + 1..];
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            terms.push((tokens(&rest[..end]), rest[..end].ends_with('*')));
            rest = &rest[end..];
        }
    }
    terms.into_iter().filter(|(t, _)| !t.is_empty()).all(|(words, prefix)| {
        texts.iter().any(|text| {
            text.windows(words.len()).any(|w| {
                w.iter().zip(&words).enumerate().all(|(i, (have, want))| {
                    if prefix && i == words.len() - 1 { have.starts_with(want.as_str()) } else { have == want }
                })
            })
        })
    })
}

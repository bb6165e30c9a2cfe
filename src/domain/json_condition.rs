//! A condition on a value inside an event's `metadata`: the contract's
//! `JsonCondition`, as written ([`JsonConditionSpec`]) and validated
//! ([`JsonCondition`]). Values compare by JSON type and value; ranges only
//! match values of their bound's type.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::filter_spec::{MAX_LIST_VALUES, filter_string};
use crate::error::{Error, Result};

/// Segments a path may have.
pub const MAX_SEGMENTS: usize = 8;

/// A JSON value that is present in the input, `null` included (serde's
/// default would read an explicit `null` as absent).
fn present<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// `JsonCondition` as written: every test set must hold.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JsonConditionSpec {
    pub path: String,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub eq: Option<Value>,
    #[serde(default, rename = "in", skip_serializing_if = "Option::is_none")]
    pub is_in: Option<Vec<Value>>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub gt: Option<Value>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub gte: Option<Value>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub lt: Option<Value>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub lte: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exists: Option<bool>,
}

/// A bound of a range: a number or a string.
#[derive(Clone, Debug, PartialEq)]
pub enum Bound {
    Number(serde_json::Number),
    String(String),
}

/// How a range bound compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    Gt,
    Gte,
    Lt,
    Lte,
}

/// One test on the value at a path.
#[derive(Clone, Debug, PartialEq)]
pub enum JsonTest {
    /// Equal by type and value to one of these (one for `eq`).
    In(Vec<Value>),
    Range(Comparison, Bound),
    /// A string starting with this.
    Prefix(String),
    /// Present (even as `null`), or absent.
    Exists(bool),
}

/// A validated `JsonCondition`: all tests hold on the value at `path`.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonCondition {
    /// Segments; one of digits also indexes an array.
    pub path: Vec<String>,
    pub tests: Vec<JsonTest>,
}

/// Checks a path's syntax: 1–8 dot-separated segments of `[A-Za-z0-9_$@-]`.
pub fn parse_path(at: &str, path: &str) -> Result<Vec<String>> {
    let segments: Vec<String> = path.split('.').map(str::to_string).collect();
    if segments.len() > MAX_SEGMENTS {
        return Err(Error::bad_input(at, format!("a path has at most {MAX_SEGMENTS} segments")));
    }
    for s in &segments {
        if s.is_empty() {
            return Err(Error::bad_input(at, "a path's segments must not be empty"));
        }
        if let Some(c) = s.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '@' | '-'))) {
            return Err(Error::bad_input(at, format!("`{c}` is not allowed in a path (letters, digits, `_$@-`)")));
        }
    }
    Ok(segments)
}

/// Whether a segment may index an array.
pub fn is_index(segment: &str) -> bool {
    segment.bytes().all(|b| b.is_ascii_digit())
}

fn bound(at: &str, value: Value) -> Result<Bound> {
    match value {
        Value::Number(n) => Ok(Bound::Number(n)),
        Value::String(s) => {
            filter_string(at, &s)?;
            Ok(Bound::String(s))
        }
        _ => Err(Error::bad_input(at, "a range bound must be a number or a string")),
    }
}

fn json_value(at: &str, value: &Value) -> Result<()> {
    if !super::nesting::within_bounds(&value.to_string(), false) {
        return Err(Error::bad_input(at, format!("nests JSON more than {} deep", super::nesting::MAX_NESTING)));
    }
    if let Value::String(s) = value {
        filter_string(at, s)?;
    }
    Ok(())
}

impl JsonConditionSpec {
    /// Values in its `in` list, for the filter's bounds.
    pub fn list_values(&self) -> usize {
        self.is_in.as_ref().map_or(0, Vec::len)
    }

    /// The validated condition; `at` is where it sits (`filter.metadata.0`).
    pub fn into_condition(self, at: &str) -> Result<JsonCondition> {
        let path = parse_path(&format!("{at}.path"), &self.path)?;
        let mut tests = Vec::new();
        if let Some(v) = self.eq {
            json_value(&format!("{at}.eq"), &v)?;
            tests.push(JsonTest::In(vec![v]));
        }
        if let Some(list) = self.is_in {
            if list.len() > MAX_LIST_VALUES {
                return Err(Error::bad_input(
                    format!("{at}.in"),
                    format!("at most {MAX_LIST_VALUES} values are allowed"),
                ));
            }
            for (i, v) in list.iter().enumerate() {
                json_value(&format!("{at}.in.{i}"), v)?;
            }
            tests.push(JsonTest::In(list));
        }
        let ranges = [
            ("gt", Comparison::Gt, self.gt),
            ("gte", Comparison::Gte, self.gte),
            ("lt", Comparison::Lt, self.lt),
            ("lte", Comparison::Lte, self.lte),
        ];
        for (name, cmp, v) in ranges {
            if let Some(v) = v {
                tests.push(JsonTest::Range(cmp, bound(&format!("{at}.{name}"), v)?));
            }
        }
        if let Some(p) = self.prefix {
            filter_string(&format!("{at}.prefix"), &p)?;
            tests.push(JsonTest::Prefix(p));
        }
        if let Some(e) = self.exists {
            tests.push(JsonTest::Exists(e));
        }
        Ok(JsonCondition { path, tests })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn paths_are_checked() {
        assert_eq!(parse_path("p", "a.0.$b@-_").unwrap(), ["a", "0", "$b@-_"]);
        for bad in ["", "a..b", "a.b c", "a.é", "1.2.3.4.5.6.7.8.9"] {
            assert!(parse_path("p", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn explicit_null_is_a_value() {
        let spec: JsonConditionSpec = serde_json::from_value(json!({ "path": "a", "eq": null })).unwrap();
        assert_eq!(spec.eq, Some(Value::Null));
        assert_eq!(serde_json::to_value(&spec).unwrap(), json!({ "path": "a", "eq": null }));
        let spec: JsonConditionSpec = serde_json::from_value(json!({ "path": "a" })).unwrap();
        assert_eq!(spec.eq, None);
        assert!(
            JsonConditionSpec { path: "a".into(), gt: Some(json!(true)), ..Default::default() }
                .into_condition("m")
                .is_err()
        );
    }
}

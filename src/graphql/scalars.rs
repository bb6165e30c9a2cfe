//! Scalars of the contract: `DateTime` (RFC 3339 in, UTC with `Z` out),
//! `BigInt` (64-bit, a decimal string out) and `JSON`.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{SecondsFormat, Utc};

/// An instant. Input: RFC 3339 with any offset. Output: UTC with `Z`, to the
/// microsecond. Stored with microsecond precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTime(pub chrono::DateTime<Utc>);

/// An instant: RFC 3339 with any offset in input, UTC with `Z` in output;
/// kept to the microsecond.
#[Scalar(name = "DateTime", specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        let Value::String(text) = &value else {
            return Err(InputValueError::expected_type(value));
        };
        chrono::DateTime::parse_from_rfc3339(text.trim()).map(|at| DateTime(at.with_timezone(&Utc))).map_err(|e| {
            InputValueError::custom(format!(
                "`{text}` is not an RFC 3339 date-time with an offset (e.g. 2026-01-31T12:00:00Z): {e}"
            ))
        })
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

impl From<chrono::DateTime<Utc>> for DateTime {
    fn from(at: chrono::DateTime<Utc>) -> Self {
        DateTime(at)
    }
}

/// Any JSON value.
pub type Json = async_graphql::Json<serde_json::Value>;

/// A 64-bit integer: a string of decimal digits in output (JSON numbers lose
/// precision past 2^53 in many clients); a string or an Int in input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct BigInt(pub i64);

/// A 64-bit integer. Output: a JSON string of decimal digits. Input: such a
/// string, or an Int.
#[Scalar(name = "BigInt")]
impl ScalarType for BigInt {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::Number(n) => {
                n.as_i64().map(BigInt).ok_or_else(|| InputValueError::custom(format!("`{n}` is not a 64-bit integer")))
            }
            Value::String(text) => text
                .parse::<i64>()
                .ok()
                .filter(|_| text.bytes().all(|b| b.is_ascii_digit() || b == b'-'))
                .map(BigInt)
                .ok_or_else(|| InputValueError::custom(format!("`{text}` is not a 64-bit integer in decimal digits"))),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

impl From<u64> for BigInt {
    fn from(n: u64) -> Self {
        BigInt(n as i64)
    }
}

//! The JSON forms of the contract's scalars, for the written specs (filters,
//! events): `DateTime` (RFC 3339 with any offset in, UTC with `Z` out) and
//! `BigInt` (a string of decimal digits, or a JSON integer, in; a string out),
//! and decoding a spec with the path of the field that does not fit.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// An instant written as RFC 3339.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant(pub DateTime<Utc>);

/// Parses an RFC 3339 instant with any offset; the message says what was wrong.
pub fn parse_instant(text: &str) -> std::result::Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|at| at.with_timezone(&Utc))
        .map_err(|e| format!("`{text}` is not an RFC 3339 date-time with an offset (e.g. 2026-01-31T12:00:00Z): {e}"))
}

impl Serialize for Instant {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

impl<'de> Deserialize<'de> for Instant {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_instant(&text).map(Instant).map_err(de::Error::custom)
    }
}

/// A 64-bit integer written as a string of decimal digits or a JSON integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Int64(pub i64);

/// Parses a 64-bit integer written in decimal digits (an optional `-`, no spaces).
pub fn parse_int64(text: &str) -> Option<i64> {
    text.parse::<i64>().ok().filter(|_| text.bytes().all(|b| b.is_ascii_digit() || b == b'-'))
}

impl Serialize for Int64 {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Int64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Int64Visitor;
        impl Visitor<'_> for Int64Visitor {
            type Value = Int64;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a 64-bit integer (a string of decimal digits or an integer)")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> std::result::Result<Int64, E> {
                Ok(Int64(n))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> std::result::Result<Int64, E> {
                i64::try_from(n).map(Int64).map_err(|_| E::custom(format!("`{n}` is not a 64-bit integer")))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> std::result::Result<Int64, E> {
                parse_int64(text)
                    .map(Int64)
                    .ok_or_else(|| E::custom(format!("`{text}` is not a 64-bit integer in decimal digits")))
            }
        }
        d.deserialize_any(Int64Visitor)
    }
}

/// Decodes `value` as a `T`, refusing with `BAD_USER_INPUT` at the path of the
/// part that does not fit (`path` is where the value sits: `events.3`).
pub fn decode<T: serde::de::DeserializeOwned>(value: serde_json::Value, path: &str) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| refusal(e, path))
}

/// As [`decode`], from JSON text.
pub fn decode_text<T: serde::de::DeserializeOwned>(text: &[u8], path: &str) -> Result<T> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let decoded = serde_path_to_error::deserialize(&mut de).map_err(|e| refusal(e, path))?;
    de.end().map_err(|e| Error::bad_input(path, format!("is not JSON: {e}")))?;
    Ok(decoded)
}

/// The refusal for a value that does not decode: its path joined to `path`
/// with dots, as GraphQL writes input paths (`events.3.actor.externalId`).
fn refusal<E: fmt::Display>(e: serde_path_to_error::Error<E>, path: &str) -> Error {
    use serde_path_to_error::Segment;
    let mut at = path.to_string();
    for segment in e.path().iter() {
        match segment {
            Segment::Seq { index } => at.push_str(&format!(".{index}")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                at.push('.');
                at.push_str(key);
            }
            Segment::Unknown => {}
        }
    }
    let message = e.into_inner().to_string();
    // serde_json appends the position in the text, which means nothing to a caller.
    let message = match message.rfind(" at line ") {
        Some(cut) => message[..cut].to_string(),
        None => message,
    };
    Error::bad_input(at.trim_start_matches('.'), message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn instants_take_any_offset_and_print_utc() {
        let at: Instant = serde_json::from_value(json!("2026-01-01T02:00:00+02:00")).unwrap();
        assert_eq!(serde_json::to_value(at).unwrap(), json!("2026-01-01T00:00:00Z"));
        assert!(serde_json::from_value::<Instant>(json!("yesterday")).is_err());
    }

    #[test]
    fn int64s_take_strings_and_integers() {
        assert_eq!(serde_json::from_value::<Int64>(json!("42")).unwrap(), Int64(42));
        assert_eq!(serde_json::from_value::<Int64>(json!(-7)).unwrap(), Int64(-7));
        for bad in [json!("4 2"), json!("+1"), json!(1.5), json!(u64::MAX), json!("9223372036854775808")] {
            assert!(serde_json::from_value::<Int64>(bad.clone()).is_err(), "{bad}");
        }
        assert_eq!(serde_json::to_value(Int64(5)).unwrap(), json!("5"));
    }

    #[test]
    fn refusals_name_the_field() {
        #[derive(Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Inner {
            n: Int64,
        }
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct Outer {
            items: Vec<Inner>,
        }
        let err = decode::<Outer>(json!({"items": [{"n": 1}, {"n": "x"}]}), "body").unwrap_err();
        match err {
            Error::BadInput { path, .. } => assert_eq!(path, "body.items.1.n"),
            other => panic!("{other:?}"),
        }
        let err = decode_text::<Outer>(br#"{"items": [{"n": 1, "m": 2}]}"#, "").unwrap_err();
        match err {
            Error::BadInput { path, message, .. } => {
                assert_eq!(path, "items.0.m");
                assert!(message.contains("unknown field `m`"), "{message}");
                assert!(!message.contains("line"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
}

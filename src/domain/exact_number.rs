//! Numbers a leaf can hold exactly. RFC 8785 writes a number as the shortest
//! round trip of its nearest IEEE-754 double, so `1234567890123456789`,
//! `1e400` or `0.1000000000000000000001` would be hashed as a value nobody
//! sent. Such numbers in `metadata` and `changes` are refused (API.md, "Exact
//! leaves"). A JSON parser has already rounded them, so the doors mark them in
//! the raw text ([`mark_inexact`]) and the event's validation refuses the mark
//! at its path ([`first_inexact`]).

use std::borrow::Cow;

use serde_json::Value as Json;

/// What a refused number becomes in the text: a string no event may hold
/// (text with NUL is refused), so it cannot be mistaken for a sent value.
const MARK: &str = "\u{0}inexact number\u{0}";

/// The message of the refusal of `number`.
pub fn refusal(number: &str) -> String {
    format!(
        "the number {number} has no exact RFC 8785 form (it would be hashed as a different value): send it as a string"
    )
}

/// Whether the RFC 8785 form of the JSON number `text` denotes the same
/// decimal value as `text`.
pub fn is_exact(text: &str) -> bool {
    let Ok(double) = text.parse::<f64>() else { return false };
    if !double.is_finite() {
        return false;
    }
    // The canonicalizer's own formatter (ECMAScript's Number::toString):
    // where two shortest forms are equally near it takes the even one, and
    // Rust's `{:e}` does not.
    let mut buffer = ryu_js::Buffer::new();
    match (Decimal::of(text), Decimal::of(buffer.format_finite(double))) {
        (Some(sent), Some(hashed)) => sent == hashed,
        _ => false,
    }
}

/// A decimal value in lowest terms: sign, significant digits, power of ten.
#[derive(Debug, PartialEq)]
struct Decimal {
    negative: bool,
    digits: String,
    exponent: i64,
}

impl Decimal {
    /// The value of a JSON number (`-?int(.frac)?([eE][+-]?exp)?`).
    fn of(text: &str) -> Option<Decimal> {
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
            Some(at) => (&unsigned[..at], unsigned[at + 1..].trim_start_matches('+').parse::<i64>().ok()?),
            None => (unsigned, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all = format!("{int}{frac}");
        let leading = all.len() - all.trim_start_matches('0').len();
        let digits = all[leading..].trim_end_matches('0');
        if digits.is_empty() {
            return Some(Decimal { negative: false, digits: String::new(), exponent: 0 });
        }
        let trailing = all.len() - leading - digits.len();
        let exponent = exponent.checked_sub(frac.len() as i64)?.checked_add(trailing as i64)?;
        Some(Decimal { negative, digits: digits.to_string(), exponent })
    }
}

/// The JSON text `text` with every inexact number under a `metadata` or
/// `changes` member replaced by a marked string; borrowed when there is none.
/// Text that is not JSON is returned as it is, for the parser to refuse.
pub fn mark_inexact(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    // Per open container: is it an object, and how many of the members on the
    // way down are `metadata` or `changes`.
    let mut stack: Vec<(bool, usize)> = Vec::new();
    let mut under = 0usize;
    let mut last_key: Option<&str> = None;
    let mut out: Option<String> = None;
    let mut copied = 0usize;
    let mut i = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                let end = i.min(bytes.len());
                let in_object = stack.last().is_some_and(|&(object, _)| object);
                // A string followed by `:` inside an object is a member name.
                let rest = text.get(end + 1..).unwrap_or("").trim_start();
                if in_object && rest.starts_with(':') {
                    last_key = text.get(start..end);
                }
            }
            b'{' | b'[' => {
                let entering = matches!(last_key, Some("metadata" | "changes")) as usize;
                under += entering;
                stack.push((bytes[i] == b'{', entering));
                last_key = None;
            }
            b'}' | b']' => {
                if let Some((_, entered)) = stack.pop() {
                    under -= entered;
                }
                last_key = None;
            }
            b',' => last_key = None,
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i + 1 < bytes.len() && matches!(bytes[i + 1], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') {
                    i += 1;
                }
                let number = &text[start..=i];
                let direct = matches!(last_key, Some("metadata" | "changes"));
                if (under > 0 || direct) && !is_exact(number) {
                    let out = out.get_or_insert_with(|| String::with_capacity(text.len() + 64));
                    out.push_str(&text[copied..start]);
                    out.push_str(&serde_json::to_string(&format!("{MARK}{number}")).expect("a string serialises"));
                    copied = i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    match out {
        Some(mut out) => {
            out.push_str(&text[copied..]);
            Cow::Owned(out)
        }
        None => Cow::Borrowed(text),
    }
}

/// The first inexact number in `value` (at `path`): its path and the number
/// as sent. Numbers the parser kept as integers are checked here; others
/// arrive marked by [`mark_inexact`].
pub fn first_inexact(path: &str, value: &Json) -> Option<(String, String)> {
    match value {
        Json::Number(n) if n.is_i64() || n.is_u64() => {
            let text = n.to_string();
            (!is_exact(&text)).then(|| (path.to_string(), text))
        }
        Json::String(s) => s.strip_prefix(MARK).map(|number| (path.to_string(), number.to_string())),
        Json::Array(items) => items.iter().enumerate().find_map(|(i, v)| first_inexact(&format!("{path}.{i}"), v)),
        Json::Object(map) => map.iter().find_map(|(k, v)| first_inexact(&format!("{path}.{k}"), v)),
        _ => None,
    }
}

/// Writes every number of `value` as its leaf does: a double with an
/// integral value that an `i64` holds exactly (`2.0`, `-0.0`) becomes that
/// integer, so every door serves `2` where the leaf holds `2`.
pub fn canonicalize(value: &mut Json) {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    match value {
        Json::Number(n) => {
            if let Some(f) = n.as_f64().filter(|f| n.is_f64() && f.fract() == 0.0 && f.abs() <= EXACT) {
                *value = Json::from(f as i64);
            }
        }
        Json::Array(items) => items.iter_mut().for_each(canonicalize),
        Json::Object(map) => map.values_mut().for_each(canonicalize),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The value the canonicalizer writes for the double nearest `text`.
    fn hashed(text: &str) -> String {
        let value: Json = serde_json::from_str(&format!("{}", text.parse::<f64>().unwrap())).unwrap();
        String::from_utf8(serde_json_canonicalizer::to_vec(&value).unwrap()).unwrap()
    }

    #[test]
    fn the_contract_examples_are_refused() {
        for text in ["1234567890123456789", "1e400", "0.1000000000000000000001", "-1e400", "1e-400", "9007199254740993"]
        {
            assert!(!is_exact(text), "{text}");
        }
        for text in ["0", "-0", "0.0", "1", "-17", "4.50", "1E30", "0.1", "1e21", "1e-7", "9007199254740992", "5e-324"]
        {
            assert!(is_exact(text), "{text}");
        }
        // Exactly a double, but RFC 8785 writes 1152921504606847000.
        assert!(!is_exact("1152921504606846976"));
        // 1281657895081940.25 is a double: of its two nearest shortest forms
        // RFC 8785 writes the even one.
        assert!(is_exact("1281657895081940.2"));
        assert!(!is_exact("1281657895081940.3"));
    }

    #[test]
    fn integral_doubles_become_integers() {
        let mut value = serde_json::json!({"a": [2.0, -0.0, 4.5, 1e21, 7], "b": {"c": 9007199254740992.0}});
        canonicalize(&mut value);
        assert_eq!(value, serde_json::json!({"a": [2, 0, 4.5, 1e21, 7], "b": {"c": 9007199254740992i64}}));
        assert!(value["a"][0].is_i64() && value["a"][3].is_f64());
    }

    #[test]
    fn decimals_compare_by_value() {
        assert_eq!(Decimal::of("4.50"), Decimal::of("45e-1"));
        assert_eq!(Decimal::of("0.000"), Decimal::of("-0e5"));
        assert_ne!(Decimal::of("1"), Decimal::of("-1"));
        assert_eq!(Decimal::of("1e99999999999999999999"), None);
    }

    #[test]
    fn only_numbers_under_metadata_and_changes_are_marked() {
        let text = r#"[{"sequence": 1234567890123456789, "metadata": {"id": 1234567890123456789, "s": "1e400",
            "ok": [1.5, -2]}, "changes": [{"field": "x", "after": 0.1000000000000000000001}], "x": 0.1000000000000000000001}]"#;
        let marked = mark_inexact(text);
        let value: Json = serde_json::from_str(&marked).unwrap_or_else(|e| panic!("{e}: {marked}"));
        assert_eq!(value[0]["sequence"], serde_json::json!(1234567890123456789u64));
        assert_eq!(
            first_inexact("events.0.metadata", &value[0]["metadata"]),
            Some(("events.0.metadata.id".into(), "1234567890123456789".into()))
        );
        assert_eq!(
            first_inexact("events.0.changes", &value[0]["changes"]),
            Some(("events.0.changes.0.after".into(), "0.1000000000000000000001".into()))
        );
        assert_eq!(value[0]["metadata"]["ok"], serde_json::json!([1.5, -2]));
        assert!(value[0]["x"].is_f64());
        assert_eq!(value[0]["metadata"]["s"], "1e400");
        assert!(matches!(mark_inexact(r#"{"metadata": {"a": 1}}"#), Cow::Borrowed(_)));
        // A GraphQL body: the events are in `variables`.
        let body =
            r#"{"query": "mutation($e: [AuditEventInput!]!) { x }", "variables": {"e": [{"metadata": {"n": 1e400}}]}}"#;
        let value: Json = serde_json::from_str(&mark_inexact(body)).unwrap();
        assert!(first_inexact("e.0.metadata", &value["variables"]["e"][0]["metadata"]).is_some());
    }

    fn number_text() -> impl Strategy<Value = String> {
        (any::<bool>(), "[0-9]{1,25}", prop::option::of("[0-9]{1,25}"), prop::option::of(-400i32..400)).prop_map(
            |(negative, int, frac, exp)| {
                let int = int.trim_start_matches('0');
                let int = if int.is_empty() { "0" } else { int };
                let mut text = format!("{}{int}", if negative { "-" } else { "" });
                if let Some(frac) = frac {
                    text.push_str(&format!(".{frac}"));
                }
                if let Some(exp) = exp {
                    text.push_str(&format!("e{exp}"));
                }
                text
            },
        )
    }

    proptest! {
        /// Every accepted number round-trips through the canonicalizer to the
        /// same decimal value, and every refused one would not have.
        #[test]
        fn accepted_numbers_round_trip_and_refused_ones_would_change(text in number_text()) {
            let double = text.parse::<f64>().unwrap();
            if is_exact(&text) {
                let written = hashed(&text);
                prop_assert_eq!(Decimal::of(&written), Decimal::of(&text), "{} written as {}", text, written);
            } else if double.is_finite() {
                let written = hashed(&text);
                prop_assert_ne!(Decimal::of(&written), Decimal::of(&text), "{} written as {}", text, written);
            } else {
                prop_assert!(serde_json::from_str::<Json>(&text).is_err(), "{} has no double", text);
            }
        }

        /// Doubles written the shortest way are always accepted.
        #[test]
        fn shortest_forms_of_doubles_are_accepted(bits in any::<u64>()) {
            let double = f64::from_bits(bits);
            prop_assume!(double.is_finite());
            let shortest = format!("{double:e}");
            prop_assert!(is_exact(&hashed(&shortest)), "{}", shortest);
        }
    }
}

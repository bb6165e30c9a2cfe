//! The bytes a leaf is made of and how they are hashed: RFC 8785 (JCS) JSON,
//! instants written one way only, and the RFC 9162 leaf hash.

use chrono::{DateTime, Utc};

use super::Hash;

/// The RFC 8785 serialization of `value`: object members sorted by the UTF-16
/// code units of their names, no insignificant whitespace, numbers as
/// ECMAScript writes them (so integers beyond 2^53 lose precision, as I-JSON
/// warns), strings with the minimal escapes.
pub fn jcs(value: &serde_json::Value) -> Vec<u8> {
    // A `Value` cannot hold NaN, an infinity or a non-string key (serde_json is
    // built without `arbitrary_precision`; a test checks it), and writing to a
    // Vec does not fail, so serialization has no error to report.
    serde_json_canonicalizer::to_vec(value).expect("a serde_json::Value always has an RFC 8785 form")
}

/// The RFC 9162 §2.1.1 leaf hash: SHA-256(0x00 ‖ leaf).
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    tlog_tiles::record_hash(leaf).0
}

/// An instant as the canonical event writes it: UTC, `YYYY-MM-DDTHH:MM:SS.ffffffZ`,
/// exactly six fractional digits (finer digits are cut, never rounded).
pub fn instant(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::reference::{RFC6962_ROOTS, hex};
    use chrono::TimeZone;
    use serde_json::{Value, json};

    fn canonical(json_text: &str) -> String {
        let value: Value = serde_json::from_str(json_text).unwrap();
        String::from_utf8(jcs(&value)).unwrap()
    }

    fn number(value: f64) -> String {
        String::from_utf8(jcs(&Value::from(value))).unwrap()
    }

    /// RFC 8785 Appendix B: IEEE 754 doubles (as bits) and their serialization.
    #[test]
    fn numbers_follow_rfc8785_appendix_b() {
        let vectors: &[(u64, &str)] = &[
            (0x0000000000000000, "0"),
            (0x8000000000000000, "0"),
            (0x0000000000000001, "5e-324"),
            (0x8000000000000001, "-5e-324"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"),
            (0xffefffffffffffff, "-1.7976931348623157e+308"),
            (0x4340000000000000, "9007199254740992"),
            (0xc340000000000000, "-9007199254740992"),
            (0x4430000000000000, "295147905179352830000"),
            (0x44b52d02c7e14af5, "9.999999999999997e+22"),
            (0x44b52d02c7e14af6, "1e+23"),
            (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
            (0x444b1ae4d6e2ef4e, "999999999999999700000"),
            (0x444b1ae4d6e2ef4f, "999999999999999900000"),
            (0x444b1ae4d6e2ef50, "1e+21"),
            (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
            (0x3eb0c6f7a0b5ed8d, "0.000001"),
            (0x41b3de4355555553, "333333333.3333332"),
            (0x41b3de4355555554, "333333333.33333325"),
            (0x41b3de4355555555, "333333333.3333333"),
            (0x41b3de4355555556, "333333333.3333334"),
            (0x41b3de4355555557, "333333333.33333343"),
            (0xbecbf647612f3696, "-0.0000033333333333333333"),
            (0x43143ff3c1cb0959, "1424953923781206.2"),
        ];
        for &(bits, want) in vectors {
            assert_eq!(number(f64::from_bits(bits)), want, "bits {bits:016x}");
        }
    }

    /// Numbers as they arrive in JSON text, parsed and written back.
    #[test]
    fn number_literals_are_rewritten_the_ecmascript_way() {
        for (text, want) in [
            ("1E30", "1e+30"),
            ("4.50", "4.5"),
            ("2e-3", "0.002"),
            ("1e-7", "1e-7"),
            ("-0.0", "0"),
            ("0.000000000000000000000000001", "1e-27"),
            ("333333333.33333329", "333333333.3333333"),
            ("9007199254740992", "9007199254740992"),
            ("9007199254740993", "9007199254740992"),
            ("100", "100"),
            ("-17", "-17"),
            ("56.0", "56"),
            ("1e21", "1e+21"),
            ("1e20", "100000000000000000000"),
        ] {
            assert_eq!(canonical(text), want, "{text}");
        }
    }

    /// `jcs` relies on a `Value` never holding an unrepresentable number: with
    /// serde_json's `arbitrary_precision` on, this would parse and `jcs` could fail.
    #[test]
    fn values_cannot_hold_numbers_outside_binary64() {
        assert!(serde_json::from_str::<Value>("1e400").is_err());
        assert_eq!(jcs(&Value::from(f64::NAN)), b"null");
    }

    /// RFC 8785 §3.2.4's example (cyberphone's testdata `values.json`): number
    /// forms, every string escape rule, literals, and member order.
    #[test]
    fn rfc8785_values_example() {
        let input = r#"{
  "numbers": [1E30, 4.50, 333333333.33333329, 2e-3, 0.000000000000000000000000001],
  "escaping": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"#;
        let want = "{\"escaping\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\",\
                    \"literals\":[null,true,false],\
                    \"numbers\":[1e+30,4.5,333333333.3333333,0.002,1e-27]}";
        assert_eq!(canonical(input), want);
    }

    /// RFC 8785 §3.2.3: names sort by UTF-16 code units, so the emoji (a
    /// surrogate pair, 0xD83D…) sorts before U+FB33 although its code point is higher.
    #[test]
    fn members_sort_by_utf16_code_units() {
        let input = r#"{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}"#;
        let want = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
                    \"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
                    \"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}";
        assert_eq!(canonical(input), want);
    }

    /// cyberphone's testdata `weird.json` and `structures.json`: DEL and U+0080
    /// stay raw, `</script>` is not escaped, nested objects sort too.
    #[test]
    fn reference_testdata() {
        let weird = r#"{
  "\u20ac": "Euro Sign",
  "1": "One",
  "\u0080": "Control\u007f",
  "\ud83d\ude02": "Smiley",
  "\u00f6": "Latin Small Letter O With Diaeresis",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "</script>": "Browser Challenge"
}"#;
        let want = "{\"1\":\"One\",\"</script>\":\"Browser Challenge\",\"\u{80}\":\"Control\u{7f}\",\
                    \"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
                    \"\u{1f602}\":\"Smiley\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}";
        assert_eq!(canonical(weird), want);

        let structures = r#"{
  "1": {"f": {"f": "hi","F": 5} ,"\n": 56.0},
  "10": { },
  "": "empty",
  "a": { },
  "111": [ { } ],
  "A": { }
}"#;
        assert_eq!(
            canonical(structures),
            r#"{"":"empty","1":{"\n":56,"f":{"F":5,"f":"hi"}},"10":{},"111":[{}],"A":{},"a":{}}"#
        );
    }

    #[test]
    fn control_characters_use_short_or_lowercase_hex_escapes() {
        let value = json!({"s": "\u{8}\t\n\u{c}\r\u{1}\u{1f}"});
        assert_eq!(String::from_utf8(jcs(&value)).unwrap(), r#"{"s":"\b\t\n\f\r\u0001\u001f"}"#);
    }

    #[test]
    fn leaf_hash_prefixes_a_zero_byte() {
        use sha2::{Digest, Sha256};
        // RFC 6962 test vectors: the empty leaf (the root of the tree of that
        // one leaf), and the leaf "\x00" (the first hash of a published proof).
        assert_eq!(hex(&leaf_hash(b"")), RFC6962_ROOTS[0]);
        assert_eq!(hex(&leaf_hash(&[0])), "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7");
        let leaf = b"{\"a\":1}";
        assert_eq!(leaf_hash(leaf), <[u8; 32]>::from(Sha256::new().chain_update([0]).chain_update(leaf).finalize()));
    }

    #[test]
    fn instants_have_exactly_six_fractional_digits() {
        let at = Utc.with_ymd_and_hms(2024, 2, 29, 23, 59, 7).unwrap();
        assert_eq!(instant(at), "2024-02-29T23:59:07.000000Z");
        let at = at + chrono::Duration::nanoseconds(123_456_789);
        assert_eq!(instant(at), "2024-02-29T23:59:07.123456Z");
        let at = Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::microseconds(5);
        assert_eq!(instant(at), "0001-01-01T00:00:00.000005Z");
    }
}

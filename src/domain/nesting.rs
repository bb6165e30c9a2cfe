//! Bracket nesting of a text (a GraphQL document, a JSON body), bounded
//! before any parser recurses on it.

/// Brackets one document (or JSON body) may nest: parsers recurse on them, so
/// deeper text is refused unparsed, well before it could exhaust a stack.
pub const MAX_NESTING: usize = 64;

/// Whether `text` nests `{`, `[` and `(` at most [`MAX_NESTING`] deep, outside
/// strings (and, in GraphQL, comments and block strings).
pub fn within_bounds(text: &str, graphql: bool) -> bool {
    let bytes = text.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            // A comment ends at a line terminator: `\n`, `\r\n` or a lone `\r`.
            b'#' if graphql => {
                while i < bytes.len() && !matches!(bytes[i], b'\n' | b'\r') {
                    i += 1;
                }
            }
            b'"' if graphql && bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") { 4 } else { 1 };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return false;
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    #[test]
    fn bounds_nesting_outside_strings_and_comments() {
        use super::{MAX_NESTING, within_bounds as nesting_within_bounds};
        let deep = format!("{}{}", "{".repeat(MAX_NESTING + 1), "}".repeat(MAX_NESTING + 1));
        assert!(!nesting_within_bounds(&deep, true));
        let ok = format!("{}{}", "[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING));
        assert!(nesting_within_bounds(&ok, false));
        let hidden = format!("{{ a(s: \"{deep}\") }} # {deep}\n{{ b(t: \"\"\"{deep}\\\"\"\" \"\"\") }}");
        assert!(nesting_within_bounds(&hidden, true), "{hidden}");
        assert!(nesting_within_bounds(&format!("{{\"q\": \"{deep}\"}}"), false));
        // A lone carriage return ends a comment, as in the GraphQL grammar.
        assert!(!nesting_within_bounds(&format!("{{ a }} #\r{deep}"), true));
        assert!(!nesting_within_bounds(&format!("{{ a }} #\r\n{deep}"), true));
    }
}

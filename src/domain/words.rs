//! Words, as the `search` filter sees them: a token is a maximal run of
//! Unicode letters and digits, compared after simple case folding, never
//! stemmed. Tokens are made here, at record time and for a search alike, so
//! both databases compare exactly the same strings.
//!
//! An event's words are stored as one string: each text's tokens joined by a
//! space, with a space before and after, and the texts separated by a newline
//! (` create workspace \n acme \n `). A word is then ` word `, a prefix
//! ` word`, and a phrase ` a b ` — never across two texts.

use super::event::NewEvent;
use super::stored_event::StoredEvent;
use crate::error::{Error, Result};

/// Terms one `search` may hold.
pub const MAX_TERMS: usize = 32;

/// Unicode simple case folding (`CaseFolding.txt`, statuses C and S) of one
/// character: its lower case where that is one character, except the few
/// letters whose fold is not their lower case.
pub fn fold_char(c: char) -> char {
    match c {
        'ς' => 'σ',
        'ſ' => 's',
        'ϐ' => 'β',
        'ϑ' => 'θ',
        'ϕ' => 'φ',
        'ϖ' => 'π',
        'ϰ' => 'κ',
        'ϱ' => 'ρ',
        'ϵ' => 'ε',
        'ẛ' => 'ṡ',
        '\u{0345}' | '\u{1FBE}' => 'ι',
        '\u{1C80}' => 'в',
        '\u{1C81}' => 'д',
        '\u{1C82}' => 'о',
        '\u{1C83}' => 'с',
        '\u{1C84}' | '\u{1C85}' => 'т',
        '\u{1C86}' => 'ъ',
        '\u{1C87}' => 'ѣ',
        '\u{1C88}' => 'ꙋ',
        // Cherokee folds to its capitals, which have no other fold.
        '\u{13A0}'..='\u{13F5}' => c,
        '\u{13F8}'..='\u{13FD}' => char::from_u32(c as u32 - 8).unwrap_or(c),
        '\u{AB70}'..='\u{ABBF}' => char::from_u32(c as u32 - 0xAB70 + 0x13A0).unwrap_or(c),
        c => {
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(l), None) => l,
                // A lower case of several characters (`İ`) is not a simple fold.
                _ => c,
            }
        }
    }
}

/// The folded tokens of a text, in order.
pub fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(|t| t.chars().map(fold_char).collect())
        .collect()
}

/// The stored words of texts, each text its own (see the module's comment).
pub fn stored<'a>(texts: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for text in texts {
        let words = tokens(text);
        if words.is_empty() {
            continue;
        }
        out.push(' ');
        for w in words {
            out.push_str(&w);
            out.push(' ');
        }
        out.push('\n');
    }
    out
}

/// The texts of an event that `search` looks in: its action, summary, reason
/// and error message, its resources' names and every string in its metadata.
pub fn event_texts(e: &NewEvent) -> Vec<&str> {
    let names = e.resource.iter().chain(&e.related_resources).filter_map(|r| r.name.as_deref());
    texts(&e.action, [&e.summary, &e.reason, &e.error_message], names, e.metadata.values())
}

/// The words of a stored event, made from its row: its texts without the
/// values its leaf seals, so after its actor's erasure filters on them no
/// longer match (API.md Part 3); for an event recorded before words were
/// stored, which seals nothing, the words it would have been given.
pub fn stored_event_words(row: &StoredEvent) -> String {
    let metadata = super::personal::metadata_without_sealed(row);
    let part = |key: &str| row.recorded.get(key).cloned().unwrap_or(serde_json::Value::Null);
    let (resource, related) = (part("resource"), part("relatedResources"));
    let resources = std::iter::once(&resource).chain(related.as_array().into_iter().flatten());
    let names = resources.filter_map(|r| r.get("name").and_then(serde_json::Value::as_str));
    let values = metadata.as_object().into_iter().flat_map(|m| m.values());
    stored(texts(&row.action, [&row.summary, &row.reason, &row.error_message], names, values))
}

fn texts<'a>(
    action: &'a str,
    optional: [&'a Option<String>; 3],
    names: impl Iterator<Item = &'a str>,
    metadata: impl Iterator<Item = &'a serde_json::Value>,
) -> Vec<&'a str> {
    let mut texts = vec![action];
    texts.extend(optional.into_iter().flatten().map(String::as_str));
    texts.extend(names);
    for value in metadata {
        strings(value, &mut texts);
    }
    texts
}

fn strings<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match value {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// One term of a search: consecutive tokens of one text, the last of which
/// may only start the text's token (`word*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    pub tokens: Vec<String>,
    pub prefix: bool,
}

impl Term {
    /// The fragment of the stored words this term needs (see the module's comment).
    pub fn pattern(&self) -> String {
        let mut out = String::from(" ");
        out.push_str(&self.tokens.join(" "));
        if !self.prefix {
            out.push(' ');
        }
        out
    }
}

/// The terms of a `search`: words, `word*` and `"quoted phrases"`, separated
/// by spaces; all must match. A term of no letters or digits is no term.
pub fn terms(path: &str, search: &str) -> Result<Vec<Term>> {
    let mut out = Vec::new();
    let mut rest = search;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let (raw, quoted) = if let Some(body) = rest.strip_prefix('"') {
            let end = body.find('"').ok_or_else(|| Error::bad_input(path, "a phrase's closing `\"` is missing"))?;
            rest = &body[end + 1..];
            (&body[..end], true)
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let word = &rest[..end];
            rest = &rest[end..];
            (word, false)
        };
        let prefix = !quoted && raw.ends_with('*');
        let tokens = tokens(raw);
        if tokens.is_empty() {
            continue;
        }
        out.push(Term { tokens, prefix });
        if out.len() > MAX_TERMS {
            return Err(Error::bad_input(path, format!("a search holds at most {MAX_TERMS} terms")));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_runs_of_letters_and_digits_folded() {
        assert_eq!(tokens("Disk FULL: sda1-ÉTÉ_x"), ["disk", "full", "sda1", "été", "x"]);
        assert_eq!(tokens("ΣΊΣΥΦΟΣ ς"), ["σίσυφοσ", "σ"]);
        assert_eq!(tokens("İ ß ẞ"), ["İ", "ß", "ß"]);
        assert!(tokens(" -- ").is_empty());
    }

    #[test]
    fn stored_words_keep_texts_apart() {
        assert_eq!(stored(["Create workspace", "", "Acme"]), " create workspace \n acme \n");
    }

    #[test]
    fn terms_read_words_prefixes_and_phrases() {
        let t = terms("s", r#"Disk* "out of" -- full-text"#).unwrap();
        assert_eq!(t.iter().map(Term::pattern).collect::<Vec<_>>(), [" disk", " out of ", " full text "]);
        assert!(terms("s", "\"open").is_err());
    }
}

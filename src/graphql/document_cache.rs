//! Parsed GraphQL documents kept by their text, so a client sending the same
//! query again skips the parser. Only the parse is kept: the depth, alias,
//! validation and complexity checks still run on every request (complexity
//! depends on its variables), and no answer is ever kept.

use std::num::NonZeroUsize;
use std::sync::Mutex;

use async_graphql::parser::types::ExecutableDocument;
use lru::LruCache;

/// Documents kept at most.
const CAPACITY: NonZeroUsize = NonZeroUsize::new(128).unwrap();
/// Longer documents are parsed each time, so the cache stays small (a parsed
/// document takes several times its text).
const MAX_KEPT_CHARS: usize = 8 * 1024;

/// A bounded least-recently-used map from a document's text to its parse.
pub struct DocumentCache(Mutex<LruCache<String, ExecutableDocument>>);

impl Default for DocumentCache {
    fn default() -> Self {
        Self(Mutex::new(LruCache::new(CAPACITY)))
    }
}

impl DocumentCache {
    /// `query` parsed: a copy of the kept parse, else parsed now (and kept if
    /// it parses and is short enough). Errors are not kept.
    pub fn parse(&self, query: &str) -> Result<ExecutableDocument, async_graphql::parser::Error> {
        if let Some(doc) = self.0.lock().unwrap_or_else(|e| e.into_inner()).get(query) {
            return Ok(doc.clone());
        }
        let doc = async_graphql::parser::parse_query(query)?;
        if query.len() <= MAX_KEPT_CHARS {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).put(query.to_string(), doc.clone());
        }
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_parses_not_errors_and_stays_bounded() {
        let cache = DocumentCache::default();
        let a = cache.parse("{ viewer { scopes } }").unwrap();
        assert_eq!(format!("{a:?}"), format!("{:?}", cache.parse("{ viewer { scopes } }").unwrap()));
        assert!(cache.parse("{ viewer {").is_err());
        assert!(cache.0.lock().unwrap().get("{ viewer {").is_none());
        for i in 0..CAPACITY.get() + 10 {
            cache.parse(&format!("{{ a{i}: viewer {{ scopes }} }}")).unwrap();
        }
        assert_eq!(cache.0.lock().unwrap().len(), CAPACITY.get());
        let long = format!("{{ viewer {{ scopes }} }}{}", " ".repeat(MAX_KEPT_CHARS));
        cache.parse(&long).unwrap();
        assert!(cache.0.lock().unwrap().get(&long).is_none());
    }
}

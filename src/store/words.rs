//! `search` → SQL. The event's words are stored in the contract's tokens
//! (`domain::words`), so a term is a literal fragment of them, found with
//! `LIKE` on both backends: the same strings, the same answer. Each backend
//! first narrows by its index of the words, only where its tokenizer
//! provably keeps our tokens as they are: whole ASCII tokens, which
//! PostgreSQL's `simple` configuration (GIN on the words' `tsvector`) and
//! SQLite's `unicode61` (FTS5, `audit_event_words`) both find exactly; on
//! SQLite ASCII prefixes too, since an FTS5 token that starts where one of
//! ours starts begins with all of its ASCII letters and digits. Anything
//! either index finds beyond our tokens is dropped by the `LIKE`.
//!
//! On SQLite a page walks the time index and checks each event against the
//! index's answer (`+rowid IN (…)`: the `+` keeps the planner from looking
//! every match up by rowid and sorting them all), and stops at the page's
//! limit; a count looks the matches up. On a 100,000-event tenant a page of
//! a word in a fifth of the events took 3 ms this way against 120 ms looked
//! up and sorted, and of a word in none 21–37 ms against 536 ms for the
//! `LIKE` alone (measured, BENCHMARKS.md).

use entity::audit_event as ev;
use sea_orm::DbBackend;
use sea_orm::sea_query::{BinOper, Condition, Expr, ExprTrait, Func, LikeExpr, SimpleExpr};

use super::filter::{Purpose, like_literal};
use crate::domain::words::Term;

/// PostgreSQL leaves longer words out of a `tsvector`.
const MAX_LEXEME_BYTES: usize = 2_046;

/// A search's text written into a PostgreSQL statement rather than bound. How
/// many events hold a word decides the plan: a common one is found fastest
/// by walking the time index and testing each event (2 ms for a word in a
/// fifth of 1,000,000 events), a rare one through the words' index. A
/// prepared statement's generic plan cannot see the word and took the index
/// for every word, 940 ms for the common one (BENCHMARKS.md, issue 24); a
/// word in the text gets a plan of its own. Tokens hold only letters and
/// digits (`domain::words`), and patterns spaces and `%` besides, so the
/// text needs no quoting beyond its quotes, and holds no `$`, which
/// [`super::sql::with_literal_limits`] would take for a parameter.
fn literal(text: &str) -> String {
    debug_assert!(!text.contains(['\'', '$']), "{text}");
    format!("'{}'", text.replace('\'', "''"))
}

/// Every term is among the event's words.
pub(super) fn condition(terms: &[Term], backend: DbBackend, purpose: Purpose) -> SimpleExpr {
    let words = || Expr::col((ev::Entity, ev::Column::SearchWords));
    let mut all = Condition::all();
    if let Some(narrowing) = index_lookup(terms, backend, purpose) {
        all = all.add(narrowing);
    }
    for term in terms {
        let pattern = format!("%{}%", like_literal(&term.pattern()));
        all = all.add(match backend {
            DbBackend::Postgres => {
                Expr::cust(format!(r#""audit_event"."search_words" LIKE {} ESCAPE '\'"#, literal(&pattern)))
            }
            _ => words().like(LikeExpr::new(pattern).escape('\\')),
        });
    }
    if all.is_empty() { Expr::cust("1 = 1") } else { all.into() }
}

/// The events the backend's word index finds for the terms' ASCII tokens (a
/// superset of the matches), or `None` where the index cannot help.
fn index_lookup(terms: &[Term], backend: DbBackend, purpose: Purpose) -> Option<SimpleExpr> {
    let whole =
        || terms.iter().flat_map(|t| &t.tokens[..t.tokens.len() - usize::from(t.prefix)]).filter(|w| w.is_ascii());
    match backend {
        DbBackend::Postgres => {
            let lexemes: Vec<&str> = whole().map(String::as_str).filter(|w| w.len() <= MAX_LEXEME_BYTES).collect();
            if lexemes.is_empty() {
                return None;
            }
            // The very expression the index is built on.
            let vector = Expr::cust("to_tsvector('simple', \"audit_event\".\"search_words\")");
            let query =
                Func::cust("to_tsquery").arg(Expr::cust("'simple'")).arg(Expr::cust(literal(&lexemes.join(" & "))));
            Some(vector.binary(BinOper::Custom("@@"), query))
        }
        DbBackend::Sqlite => {
            // FTS5 query syntax: quoted tokens, all required; `"…"*` a prefix.
            let mut tokens: Vec<String> = whole().map(|w| format!("\"{w}\"")).collect();
            let prefixes = terms.iter().filter(|t| t.prefix).filter_map(|t| t.tokens.last());
            tokens.extend(prefixes.filter(|p| p.is_ascii()).map(|p| format!("\"{p}\"*")));
            if tokens.is_empty() {
                return None;
            }
            let rowid = if purpose == Purpose::Page { "+\"audit_event\".rowid" } else { "\"audit_event\".rowid" };
            Some(Expr::cust_with_values(
                format!("{rowid} IN (SELECT rowid FROM audit_event_words WHERE audit_event_words MATCH ?)"),
                [tokens.join(" ")],
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::sea_query::Query;

    #[test]
    fn postgres_statements_hold_the_words() {
        let terms = crate::domain::words::terms("search", "Timeout upstream*").unwrap();
        let statement = |backend: DbBackend| {
            let mut query = Query::select();
            query.column(ev::Column::Id).from(ev::Entity).and_where(condition(&terms, backend, Purpose::Page));
            backend.build(&query)
        };
        let postgres = statement(DbBackend::Postgres);
        assert!(postgres.sql.contains("to_tsquery('simple', 'timeout')"), "{}", postgres.sql);
        assert!(postgres.sql.contains(r#""search_words" LIKE '% timeout %' ESCAPE '\'"#), "{}", postgres.sql);
        assert!(postgres.sql.contains(r#""search_words" LIKE '% upstream%' ESCAPE '\'"#), "{}", postgres.sql);
        assert_eq!(postgres.values.map_or(0, |v| v.0.len()), 0);
        // SQLite binds the two patterns and the word index's query.
        assert_eq!(statement(DbBackend::Sqlite).values.map_or(0, |v| v.0.len()), 3);
    }
}

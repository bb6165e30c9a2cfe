//! `search` → SQL. The event's words are stored in the contract's tokens
//! (`domain::words`), so a term is a literal fragment of them, found with
//! `LIKE` on both backends: the same strings, the same answer. PostgreSQL
//! first narrows by its GIN index on the words' `tsvector` for whole ASCII
//! tokens, which its `simple` configuration keeps exactly as they are.

use entity::audit_event as ev;
use sea_orm::DbBackend;
use sea_orm::sea_query::{BinOper, Condition, Expr, ExprTrait, Func, LikeExpr, SimpleExpr};

use super::filter::like_literal;
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
pub fn condition(terms: &[Term], backend: DbBackend) -> SimpleExpr {
    let words = || Expr::col((ev::Entity, ev::Column::SearchWords));
    let mut all = Condition::all();
    if backend == DbBackend::Postgres {
        let whole: Vec<&str> = terms
            .iter()
            .flat_map(|t| {
                let n = t.tokens.len() - usize::from(t.prefix);
                t.tokens[..n].iter().map(String::as_str)
            })
            .filter(|w| w.is_ascii() && w.len() <= MAX_LEXEME_BYTES)
            .collect();
        if !whole.is_empty() {
            // The very expression the index is built on.
            let vector = Expr::cust("to_tsvector('simple', \"audit_event\".\"search_words\")");
            let query =
                Func::cust("to_tsquery").arg(Expr::cust("'simple'")).arg(Expr::cust(literal(&whole.join(" & "))));
            all = all.add(vector.binary(BinOper::Custom("@@"), query));
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::sea_query::Query;

    #[test]
    fn postgres_statements_hold_the_words() {
        let terms = crate::domain::words::terms("search", "Timeout upstream*").unwrap();
        let statement = |backend: DbBackend| {
            let mut query = Query::select();
            query.column(ev::Column::Id).from(ev::Entity).and_where(condition(&terms, backend));
            backend.build(&query)
        };
        let postgres = statement(DbBackend::Postgres);
        assert!(postgres.sql.contains("to_tsquery('simple', 'timeout')"), "{}", postgres.sql);
        assert!(postgres.sql.contains(r#""search_words" LIKE '% timeout %' ESCAPE '\'"#), "{}", postgres.sql);
        assert!(postgres.sql.contains(r#""search_words" LIKE '% upstream%' ESCAPE '\'"#), "{}", postgres.sql);
        assert_eq!(postgres.values.map_or(0, |v| v.0.len()), 0);
        assert_eq!(statement(DbBackend::Sqlite).values.map_or(0, |v| v.0.len()), 2);
    }
}

//! `search` → SQL. The event's words are stored in the contract's tokens
//! (`domain::words`), so a term is a literal fragment of them, found with
//! `LIKE` on both backends: the same strings, the same answer. PostgreSQL
//! first narrows by its GIN index on the words' `tsvector` for whole ASCII
//! tokens, which its `simple` configuration keeps exactly as they are.

use entity::audit_event as ev;
use sea_orm::DbBackend;
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Func, LikeExpr, SimpleExpr};

use super::filter::like_literal;
use crate::domain::words::Term;

/// PostgreSQL leaves longer words out of a `tsvector`.
const MAX_LEXEME_BYTES: usize = 2_046;

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
            let query = Func::cust("to_tsquery").arg(Expr::cust("'simple'")).arg(whole.join(" & "));
            all = all.add(vector.binary(sea_orm::sea_query::BinOper::Custom("@@"), query));
        }
    }
    for term in terms {
        all = all.add(words().like(LikeExpr::new(format!("%{}%", like_literal(&term.pattern()))).escape('\\')));
    }
    if all.is_empty() { Expr::cust("1 = 1") } else { all.into() }
}

//! Keyset pages, for events, actors and resources alike: the rows past a
//! cursor's key, compared as one row value, walked in the key's order so that
//! an index on the key serves a page in either direction. Never OFFSET.

use sea_orm::sea_query::{DynIden, Expr, ExprTrait, IntoIden, Order, SelectStatement, SimpleExpr};

use crate::domain::page::Page;

/// The key a list is shown in: columns unique together (a sort column and the
/// ID that breaks its ties, or one unique column), ascending or descending.
pub struct Keyset {
    columns: Vec<DynIden>,
    ascending: bool,
}

impl Keyset {
    pub fn new<C: IntoIden>(columns: impl IntoIterator<Item = C>, ascending: bool) -> Self {
        Self { columns: columns.into_iter().map(IntoIden::into_iden).collect(), ascending }
    }

    /// Keeps the rows of `table` between the page's cursors, in the order the
    /// page walks them, at most [`Page::fetch_limit`] of them. `values` gives a
    /// cursor's key as SQL values in column order (any past the key's columns
    /// are left out).
    pub fn narrow<K>(
        &self,
        query: &mut SelectStatement,
        table: impl IntoIden,
        page: &Page<K>,
        values: impl Fn(&K) -> Vec<SimpleExpr>,
    ) {
        let table = table.into_iden();
        // "after" is further along the display order, whichever way that runs.
        if let Some(after) = &page.after {
            query.and_where(self.past(&table, values(after), self.ascending));
        }
        if let Some(before) = &page.before {
            query.and_where(self.past(&table, values(before), !self.ascending));
        }
        self.order(query, table, page);
        query.limit(page.fetch_limit());
    }

    /// Orders the rows of `table` (a table or an alias) as the page walks them.
    pub fn order<K>(&self, query: &mut SelectStatement, table: impl IntoIden, page: &Page<K>) {
        let table = table.into_iden();
        // Backward pages walk the display order in reverse; `Page::finish` flips them back.
        let travel = if self.ascending != page.backward { Order::Asc } else { Order::Desc };
        for column in &self.columns {
            query.order_by((table.clone(), column.clone()), travel.clone());
        }
    }

    /// The key compared with `values`: above them when `above`, else below. A
    /// key of one column is compared alone, so that its index serves it as such.
    fn past(&self, table: &DynIden, values: Vec<SimpleExpr>, above: bool) -> SimpleExpr {
        let mut key: Vec<SimpleExpr> = self.columns.iter().map(|c| Expr::col((table.clone(), c.clone()))).collect();
        let mut values: Vec<SimpleExpr> = values.into_iter().take(key.len()).collect();
        let (key, value) = match key.len() {
            1 => (key.remove(0), values.remove(0)),
            _ => (Expr::tuple(key), Expr::tuple(values)),
        };
        if above { key.gt(value) } else { key.lt(value) }
    }
}

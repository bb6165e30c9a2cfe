//! The shape of a filter input, bounded before it is converted: nesting, the
//! length of every `and` / `or` list, the number of sub-filters and the values
//! of all lists together. The walk uses its own stack, never the thread's, so
//! no input size or shape reaches SQL or the stack unbounded; the conversion
//! that follows then counts every condition exactly (`filter::Budget`).

use super::filter::{MAX_CONDITIONS, MAX_DEPTH};
use crate::error::{Error, Result};

/// Filters one `and` or `or` list may hold.
pub const MAX_LIST_FILTERS: usize = 100;
/// Values all the lists of one filter tree may hold together (each list holds
/// at most 1,000): every value becomes a bound parameter, and databases bound
/// those (SQLite at 32,766 per statement, PostgreSQL at 65,535).
pub const MAX_FILTER_VALUES: usize = 10_000;

/// What the budget needs to see of one node of a filter input.
pub trait FilterShape: Sized {
    /// The `and` list, if set.
    fn and_filters(&self) -> Option<&[Self]>;
    /// The `or` list, if set.
    fn or_filters(&self) -> Option<&[Self]>;
    /// The `not` filter, if set.
    fn not_filter(&self) -> Option<&Self>;
    /// Values in this node's own lists (`in`, `notIn`, `externalId`, …).
    fn list_values(&self) -> usize;
    /// Conditions of this node that count as sub-filters (`metadata`'s).
    fn conditions(&self) -> usize {
        0
    }
}

/// Refuses, with `BAD_USER_INPUT` and the path of the offending part, a filter
/// nested deeper than [`MAX_DEPTH`] levels, an `and`/`or` list longer than
/// [`MAX_LIST_FILTERS`], more than [`MAX_CONDITIONS`] sub-filters, or more than
/// [`MAX_FILTER_VALUES`] list values. `path` is where the filter sits.
pub fn check<F: FilterShape>(root: &F, path: &str) -> Result<()> {
    let mut stack = vec![(root, path.to_string(), 1usize)];
    let (mut sub_filters, mut values) = (0usize, 0usize);
    while let Some((node, path, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(Error::bad_input(
                path,
                format!("the filter is nested deeper than {MAX_DEPTH} levels of and/or/not"),
            ));
        }
        values += node.list_values();
        sub_filters += node.conditions();
        if values > MAX_FILTER_VALUES {
            return Err(Error::bad_input(
                path,
                format!("the filter's lists hold more than {MAX_FILTER_VALUES} values in all"),
            ));
        }
        let lists = [("and", node.and_filters()), ("or", node.or_filters())];
        for (name, list) in lists {
            let Some(list) = list else { continue };
            let at = format!("{path}.{name}");
            if list.len() > MAX_LIST_FILTERS {
                return Err(Error::bad_input(
                    at,
                    format!("an `{name}` list holds at most {MAX_LIST_FILTERS} filters (got {})", list.len()),
                ));
            }
            for (i, child) in list.iter().enumerate() {
                stack.push((child, format!("{at}.{i}"), depth + 1));
            }
            sub_filters += list.len();
        }
        if let Some(child) = node.not_filter() {
            stack.push((child, format!("{path}.not"), depth + 1));
            sub_filters += 1;
        }
        if sub_filters > MAX_CONDITIONS {
            return Err(Error::bad_input(
                path,
                format!("the filter has more than {MAX_CONDITIONS} conditions (every sub-filter counts as one)"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A filter input reduced to its shape.
    #[derive(Default)]
    struct Node {
        and: Option<Vec<Node>>,
        or: Option<Vec<Node>>,
        not: Option<Box<Node>>,
        values: usize,
    }

    impl FilterShape for Node {
        fn and_filters(&self) -> Option<&[Self]> {
            self.and.as_deref()
        }
        fn or_filters(&self) -> Option<&[Self]> {
            self.or.as_deref()
        }
        fn not_filter(&self) -> Option<&Self> {
            self.not.as_deref()
        }
        fn list_values(&self) -> usize {
            self.values
        }
    }

    fn empties(n: usize) -> Vec<Node> {
        (0..n).map(|_| Node::default()).collect()
    }

    fn nots(levels: usize) -> Node {
        (0..levels).fold(Node::default(), |inner, _| Node { not: Some(Box::new(inner)), ..Node::default() })
    }

    fn field(result: Result<()>) -> String {
        match result {
            Err(Error::BadInput { path, .. }) => path,
            other => panic!("expected BAD_USER_INPUT, got {other:?}"),
        }
    }

    #[test]
    fn empty_sub_filters_are_not_free() {
        assert!(check(&Node { or: Some(empties(100)), ..Node::default() }, "filter").is_ok());
        let wide = Node { or: Some(empties(101)), ..Node::default() };
        assert_eq!(field(check(&wide, "filter")), "filter.or");
        let huge = Node { and: Some(empties(1_000_000)), ..Node::default() };
        assert_eq!(field(check(&huge, "filter")), "filter.and");
        let split = Node { and: Some(empties(60)), or: Some(empties(41)), ..Node::default() };
        assert_eq!(field(check(&split, "filter")), "filter");
    }

    #[test]
    fn nesting_is_bounded_without_recursion() {
        assert!(check(&nots(MAX_DEPTH - 1), "f").is_ok());
        assert_eq!(field(check(&nots(MAX_DEPTH), "f")), format!("f{}", ".not".repeat(MAX_DEPTH)));
        // Far deeper than any stack would take, if the walk recursed.
        let mut deep = nots(0);
        for _ in 0..200_000 {
            deep = Node { not: Some(Box::new(deep)), ..Node::default() };
        }
        assert!(check(&deep, "f").is_err());
        // Dropping it would recurse: leak it instead, it is a test.
        std::mem::forget(deep);
    }

    #[test]
    fn values_are_bounded_in_all() {
        let lists = |n: usize, each: usize| Node {
            and: Some((0..n).map(|_| Node { values: each, ..Node::default() }).collect()),
            ..Node::default()
        };
        assert!(check(&lists(10, 1_000), "f").is_ok());
        assert!(field(check(&lists(11, 1_000), "f")).starts_with("f.and."));
    }
}

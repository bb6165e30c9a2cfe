//! Page parameters of Relay connections, validated in one place: `first` with
//! `last` refused, negatives refused, the default and maximum applied.

use crate::error::{Error, Result};

pub const DEFAULT_PAGE_SIZE: u64 = 50;
pub const MAX_PAGE_SIZE: u64 = 500;

/// A validated page request over keys of type `K`.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<K> {
    /// How many items to return.
    pub limit: u64,
    /// True when paging with `last`: the items nearest `before` are wanted.
    pub backward: bool,
    pub after: Option<K>,
    pub before: Option<K>,
}

/// The raw connection arguments.
#[derive(Clone, Debug, Default)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

impl PageArgs {
    /// The page size the arguments ask for, for complexity accounting.
    pub fn cost(first: Option<i32>, last: Option<i32>) -> usize {
        first.or(last).map_or(DEFAULT_PAGE_SIZE, |n| n.clamp(0, MAX_PAGE_SIZE as i32) as u64) as usize
    }

    /// Validates the arguments; `decode` turns a cursor into a key (or `BAD_CURSOR`).
    pub fn into_page<K>(self, decode: impl Fn(&str, &str) -> Result<K>) -> Result<Page<K>> {
        let size = |n: i32, name: &str| -> Result<u64> {
            if n < 0 {
                return Err(Error::bad_input(name, "must not be negative"));
            }
            if n as u64 > MAX_PAGE_SIZE {
                return Err(Error::bad_input(name, format!("must be at most {MAX_PAGE_SIZE}")));
            }
            Ok(n as u64)
        };
        let (limit, backward) = match (self.first, self.last) {
            (Some(_), Some(_)) => {
                return Err(Error::bad_input("last", "`first` and `last` cannot be used together"));
            }
            (Some(first), None) => (size(first, "first")?, false),
            (None, Some(last)) => (size(last, "last")?, true),
            // `before` alone pages backward from it, as `last` would.
            (None, None) => (DEFAULT_PAGE_SIZE, self.before.is_some() && self.after.is_none()),
        };
        let after = self.after.as_deref().map(|c| decode(c, "after")).transpose()?;
        let before = self.before.as_deref().map(|c| decode(c, "before")).transpose()?;
        Ok(Page { limit, backward, after, before })
    }
}

/// What a page found, in display order.
#[derive(Clone, Debug, PartialEq)]
pub struct PageResult<T> {
    pub items: Vec<T>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

impl<K> Page<K> {
    /// How many rows to fetch: one more than the page, to know whether more exist.
    pub fn fetch_limit(&self) -> u64 {
        self.limit + 1
    }

    /// Turns the rows fetched in travel order (at most `fetch_limit`) into the page.
    /// Exact in the direction of travel; the other side is true when a cursor was
    /// given on that side.
    pub fn finish<T>(&self, mut rows: Vec<T>) -> PageResult<T> {
        let more = rows.len() as u64 > self.limit;
        rows.truncate(self.limit as usize);
        if self.backward {
            rows.reverse();
            PageResult { items: rows, has_next_page: self.before.is_some(), has_previous_page: more }
        } else {
            PageResult { items: rows, has_next_page: more, has_previous_page: self.after.is_some() }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(first: Option<i32>, last: Option<i32>, after: Option<&str>, before: Option<&str>) -> Result<Page<String>> {
        PageArgs { first, last, after: after.map(Into::into), before: before.map(Into::into) }
            .into_page(|c, _| Ok(c.to_string()))
    }

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(page(None, None, None, None).unwrap().limit, DEFAULT_PAGE_SIZE);
        assert_eq!(page(Some(0), None, None, None).unwrap().limit, 0);
        assert_eq!(page(Some(500), None, None, None).unwrap().limit, 500);
        assert!(page(Some(501), None, None, None).is_err());
        assert!(page(Some(-1), None, None, None).is_err());
        assert!(page(None, Some(-1), None, None).is_err());
        assert!(page(Some(1), Some(1), None, None).is_err());
        assert!(page(None, Some(3), None, None).unwrap().backward);
        assert!(page(None, None, None, Some("c")).unwrap().backward);
        assert!(!page(None, None, Some("a"), Some("c")).unwrap().backward);
    }

    #[test]
    fn page_info_is_exact_in_the_direction_of_travel() {
        let forward = page(Some(2), None, Some("a"), None).unwrap();
        let r = forward.finish(vec![1, 2, 3]);
        assert_eq!((r.items, r.has_next_page, r.has_previous_page), (vec![1, 2], true, true));
        let backward = page(None, Some(2), None, None).unwrap();
        let r = backward.finish(vec![3, 2]);
        assert_eq!((r.items, r.has_next_page, r.has_previous_page), (vec![2, 3], false, false));
    }

    #[test]
    fn decode_errors_propagate() {
        let r = PageArgs { after: Some("x".into()), ..Default::default() }
            .into_page::<()>(|_, path| Err(Error::BadCursor(path.into())));
        assert!(matches!(r, Err(Error::BadCursor(p)) if p == "after"));
    }
}

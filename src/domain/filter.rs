//! The event filter tree, validated: bounded in depth and size, IDs decoded,
//! addresses canonical. `store::filter` turns it into SQL.

use std::net::IpAddr;

use super::cursor::{OrderField, SortKey};
use super::event::{ActorType, Outcome};
use super::ids::{ActorId, ResourceId};
use crate::error::{Error, Result};

/// Levels of `and` / `or` / `not` allowed, a plain filter being level 1.
pub const MAX_DEPTH: usize = 5;
/// Fields set anywhere in one filter tree.
pub const MAX_CONDITIONS: usize = 100;

/// A string-valued event field that `StringMatch` applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrField {
    Action,
    Category,
    Environment,
    SourceService,
}

/// One test on a string field; an event without the field matches only `NotIn`.
#[derive(Clone, Debug, PartialEq)]
pub enum StrTest {
    Eq(String),
    In(Vec<String>),
    /// A literal prefix: `%` and `_` match only themselves.
    Prefix(String),
    NotIn(Vec<String>),
}

/// Matches actors; every set field narrows, values within a field are alternatives.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ActorMatch {
    pub ids: Option<Vec<ActorId>>,
    pub types: Option<Vec<ActorType>>,
    pub external_ids: Option<Vec<String>>,
    pub emails: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceMatch {
    pub ids: Option<Vec<ResourceId>>,
    pub types: Option<Vec<String>>,
    pub external_ids: Option<Vec<String>>,
}

/// Bounds on an ordered value; every bound given must hold.
#[derive(Clone, Debug, PartialEq)]
pub struct Range<T> {
    pub gte: Option<T>,
    pub gt: Option<T>,
    pub lte: Option<T>,
    pub lt: Option<T>,
}

impl<T> Default for Range<T> {
    fn default() -> Self {
        Range { gte: None, gt: None, lte: None, lt: None }
    }
}

impl<T> Range<T> {
    /// The same bounds on another scale.
    pub fn map<U>(self, f: impl Fn(T) -> U) -> Range<U> {
        Range { gte: self.gte.map(&f), gt: self.gt.map(&f), lte: self.lte.map(&f), lt: self.lt.map(&f) }
    }
}

/// One condition on an event. Each is two-valued: an event lacking the field
/// simply does not match it (and so matches its `Not`).
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    Str(StrField, StrTest),
    Outcome(Outcome),
    Actor(ActorMatch),
    /// The primary resource matches.
    Resource(ResourceMatch),
    /// The primary resource or one related resource matches the whole match.
    RelatedTo(ResourceMatch),
    /// Bounds on a field events are ordered by, on its sort key's scale
    /// (instants in microseconds, or the sequence number).
    Position(OrderField, Range<SortKey>),
    CorrelationId(String),
    RequestId(String),
    IpAddress(IpAddr),
    HttpStatus {
        gte: Option<i32>,
        lte: Option<i32>,
    },
    /// One of these events (subscriptions narrow an announcement with it).
    Ids(Vec<super::ids::EventId>),
    /// Case-insensitive substring of action, summary, reason or error message;
    /// held lower-cased.
    Text(String),
    /// A value in the event's metadata.
    Metadata(super::json_condition::JsonCondition),
    /// Some change of the event whose field passes every test.
    Changes(Vec<StrTest>),
    /// Every term is among the event's words.
    Search(Vec<super::words::Term>),
}

/// A whole filter: all of `And` must hold, any of `Or`, none of `Not`.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    Cond(Condition),
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
}

impl Filter {
    /// The filter that matches every event.
    pub fn all() -> Filter {
        Filter::And(Vec::new())
    }

    /// Either filter.
    pub fn or(self, other: Filter) -> Filter {
        match self {
            Filter::Or(mut items) if !items.is_empty() => {
                items.push(other);
                Filter::Or(items)
            }
            first => Filter::Or(vec![first, other]),
        }
    }

    /// Whether any condition, at any depth, passes `test`.
    pub fn any_condition(&self, test: &impl Fn(&Condition) -> bool) -> bool {
        match self {
            Filter::Cond(c) => test(c),
            Filter::And(items) | Filter::Or(items) => items.iter().any(|f| f.any_condition(test)),
            Filter::Not(inner) => inner.any_condition(test),
        }
    }

    /// Both filters.
    pub fn and(self, other: Filter) -> Filter {
        match self {
            Filter::And(mut items) => {
                items.push(other);
                Filter::And(items)
            }
            first => Filter::And(vec![first, other]),
        }
    }
}

/// Counts depth and conditions while a filter input is converted, and refuses
/// a tree past the bounds with `BAD_USER_INPUT`.
#[derive(Debug, Default)]
pub struct Budget {
    conditions: usize,
}

impl Budget {
    /// Accounts for one field set at `path`.
    pub fn condition(&mut self, path: &str) -> Result<()> {
        self.conditions += 1;
        if self.conditions > MAX_CONDITIONS {
            return Err(Error::bad_input(path, format!("the filter has more than {MAX_CONDITIONS} conditions")));
        }
        Ok(())
    }

    /// Checks that a filter at `depth` (a plain filter being 1) is allowed.
    pub fn depth(&self, depth: usize, path: &str) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(Error::bad_input(
                path,
                format!("the filter is nested deeper than {MAX_DEPTH} levels of and/or/not"),
            ));
        }
        Ok(())
    }
}

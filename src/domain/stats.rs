//! What the log looks like (API.md Part 3, "Stats"): the dimensions events
//! are grouped by, the time buckets they fall in (UTC, weeks starting on
//! Monday), the bounds on both, and the order buckets are shown in.

use std::cmp::Ordering;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};

use super::cursor::{OrderField, SortKey};
use super::filter::{Condition, Filter};
use crate::error::{Error, Result};

/// Dimensions one call may group by.
pub const MAX_DIMENSIONS: usize = 3;
/// Key combinations one call may ask for.
pub const MAX_LIMIT: i32 = 100;
pub const DEFAULT_LIMIT: i32 = 20;
/// Buckets one answer may hold.
pub const MAX_BUCKETS: usize = 1_000;

/// A field events are grouped by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatsDimension {
    Action,
    Category,
    Outcome,
    /// The actor's node ID.
    Actor,
    /// The primary resource's type.
    ResourceType,
    Environment,
    SourceService,
    /// The request's HTTP status, as a decimal string.
    HttpStatus,
}

impl StatsDimension {
    pub const ALL: [StatsDimension; 8] = [
        StatsDimension::Action,
        StatsDimension::Category,
        StatsDimension::Outcome,
        StatsDimension::Actor,
        StatsDimension::ResourceType,
        StatsDimension::Environment,
        StatsDimension::SourceService,
        StatsDimension::HttpStatus,
    ];

    /// The name GraphQL gives it, as alert rules store it.
    pub fn as_str(self) -> &'static str {
        match self {
            StatsDimension::Action => "ACTION",
            StatsDimension::Category => "CATEGORY",
            StatsDimension::Outcome => "OUTCOME",
            StatsDimension::Actor => "ACTOR",
            StatsDimension::ResourceType => "RESOURCE_TYPE",
            StatsDimension::Environment => "ENVIRONMENT",
            StatsDimension::SourceService => "SOURCE_SERVICE",
            StatsDimension::HttpStatus => "HTTP_STATUS",
        }
    }

    pub fn parse(name: &str) -> Option<StatsDimension> {
        StatsDimension::ALL.into_iter().find(|d| d.as_str() == name)
    }
}

/// The width of a time bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatsInterval {
    Minute,
    Hour,
    Day,
    /// From Monday 00:00 UTC.
    Week,
    /// From the first of the month, 00:00 UTC.
    Month,
}

impl StatsInterval {
    /// The first instant of the bucket holding `at`.
    pub fn floor(self, at: DateTime<Utc>) -> DateTime<Utc> {
        let day = at.date_naive();
        let midnight = |d: NaiveDate| Utc.from_utc_datetime(&d.and_time(chrono::NaiveTime::MIN));
        let secs = at.timestamp();
        match self {
            StatsInterval::Minute => Utc.timestamp_opt(secs - secs.rem_euclid(60), 0).unwrap(),
            StatsInterval::Hour => Utc.timestamp_opt(secs - secs.rem_euclid(3_600), 0).unwrap(),
            StatsInterval::Day => midnight(day),
            StatsInterval::Week => midnight(day - Duration::days(i64::from(day.weekday().num_days_from_monday()))),
            StatsInterval::Month => midnight(day.with_day(1).unwrap_or(day)),
        }
    }

    /// How many buckets the instants from `first` to `last` (inclusive) span.
    pub fn span(self, first: DateTime<Utc>, last: DateTime<Utc>) -> u64 {
        if last < first {
            return 0;
        }
        let (a, b) = (self.floor(first), self.floor(last));
        let steps = match self {
            StatsInterval::Minute => (b - a).num_minutes(),
            StatsInterval::Hour => (b - a).num_hours(),
            StatsInterval::Day => (b - a).num_days(),
            StatsInterval::Week => (b - a).num_days() / 7,
            StatsInterval::Month => i64::from(b.year() - a.year()) * 12 + i64::from(b.month()) - i64::from(a.month()),
        };
        steps as u64 + 1
    }
}

/// What a door calls the arguments, for the paths of refusals.
pub struct StatsArgNames {
    pub group_by: &'static str,
    pub interval: &'static str,
    pub time_field: &'static str,
    pub limit: &'static str,
}

/// One stats call, validated (the filter still to be confined to the caller).
#[derive(Clone, Debug)]
pub struct StatsRequest {
    pub filter: Filter,
    pub group_by: Vec<StatsDimension>,
    pub interval: Option<StatsInterval>,
    pub time_field: OrderField,
    pub limit: u64,
}

impl StatsRequest {
    pub fn new(
        filter: Filter,
        group_by: Vec<StatsDimension>,
        interval: Option<StatsInterval>,
        time_field: OrderField,
        limit: Option<i32>,
        names: &StatsArgNames,
    ) -> Result<StatsRequest> {
        if group_by.len() > MAX_DIMENSIONS {
            return Err(Error::bad_input(
                names.group_by,
                format!("at most {MAX_DIMENSIONS} dimensions are allowed (got {})", group_by.len()),
            ));
        }
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Error::bad_input(names.limit, format!("must be between 1 and {MAX_LIMIT} (got {limit})")));
        }
        if interval.is_some() && time_field == OrderField::Sequence {
            return Err(Error::bad_input(
                names.time_field,
                "time buckets need an instant: `OCCURRED_AT` or `RECEIVED_AT`, not `SEQUENCE`",
            ));
        }
        Ok(StatsRequest { filter, group_by, interval, time_field, limit: limit as u64 })
    }
}

/// The range of `field` that every event `filter` matches lies in, as far as
/// its top-level conditions say: `(lowest, highest)` in microseconds,
/// inclusive, `None` where unbounded.
pub fn bounds(filter: &Filter, field: OrderField) -> (Option<SortKey>, Option<SortKey>) {
    let (mut low, mut high) = (None::<SortKey>, None::<SortKey>);
    let mut pending = vec![filter];
    while let Some(f) = pending.pop() {
        match f {
            Filter::And(items) => pending.extend(items),
            Filter::Cond(Condition::Position(f, range)) if *f == field => {
                let lows = [range.gte, range.gt.map(|v| v.saturating_add(1))];
                let highs = [range.lte, range.lt.map(|v| v.saturating_sub(1))];
                for v in lows.into_iter().flatten() {
                    low = Some(low.map_or(v, |l| l.max(v)));
                }
                for v in highs.into_iter().flatten() {
                    high = Some(high.map_or(v, |h| h.min(v)));
                }
            }
            _ => {}
        }
    }
    (low, high)
}

/// `BAD_USER_INPUT` when more than [`MAX_BUCKETS`] buckets would be needed.
pub fn check_buckets(needed: u64, path: &str) -> Result<()> {
    if needed > MAX_BUCKETS as u64 {
        return Err(Error::bad_input(
            path,
            format!(
                "more than {MAX_BUCKETS} buckets would be needed ({needed}): narrow the range or coarsen the interval"
            ),
        ));
    }
    Ok(())
}

/// One bucket: a time bucket (with an interval), a key combination (with
/// dimensions), or both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsBucket {
    pub start: Option<DateTime<Utc>>,
    /// One entry per dimension; `None` where the event has no value.
    pub key: Vec<Option<String>>,
    pub count: i64,
}

/// The answer to a stats call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stats {
    pub total: i64,
    pub buckets: Vec<StatsBucket>,
    /// Events outside the key combinations that got buckets.
    pub other_count: i64,
}

/// Keys compare entry by entry, a value before no value.
pub fn compare_keys(a: &[Option<String>], b: &[Option<String>]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (x, y) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// Puts buckets in the contract's order: by start, then by count
/// descending, then by key.
pub fn sort_buckets(buckets: &mut [StatsBucket]) {
    buckets.sort_by(|a, b| a.start.cmp(&b.start).then(b.count.cmp(&a.count)).then(compare_keys(&a.key, &b.key)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn buckets_start_at_utc_boundaries() {
        let t = at("2026-03-04T13:45:30.123456Z"); // a Wednesday
        assert_eq!(StatsInterval::Minute.floor(t), at("2026-03-04T13:45:00Z"));
        assert_eq!(StatsInterval::Hour.floor(t), at("2026-03-04T13:00:00Z"));
        assert_eq!(StatsInterval::Day.floor(t), at("2026-03-04T00:00:00Z"));
        assert_eq!(StatsInterval::Week.floor(t), at("2026-03-02T00:00:00Z"));
        assert_eq!(StatsInterval::Month.floor(t), at("2026-03-01T00:00:00Z"));
        // A Monday is its own week's start; a Sunday belongs to the Monday before.
        assert_eq!(StatsInterval::Week.floor(at("2026-03-02T00:00:00Z")), at("2026-03-02T00:00:00Z"));
        assert_eq!(StatsInterval::Week.floor(at("2026-03-01T23:59:59Z")), at("2026-02-23T00:00:00Z"));
        assert_eq!(StatsInterval::Minute.floor(at("1969-12-31T23:59:30Z")), at("1969-12-31T23:59:00Z"));
    }

    #[test]
    fn spans_count_buckets() {
        let (a, b) = (at("2026-01-31T23:59:59Z"), at("2026-03-01T00:00:00Z"));
        assert_eq!(StatsInterval::Month.span(a, b), 3);
        assert_eq!(StatsInterval::Day.span(a, b), 30);
        assert_eq!(StatsInterval::Hour.span(a, a), 1);
        assert_eq!(StatsInterval::Week.span(at("2026-03-01T00:00:00Z"), at("2026-03-02T00:00:00Z")), 2);
        assert_eq!(StatsInterval::Minute.span(b, a), 0);
    }

    #[test]
    fn bounds_come_from_top_level_conditions() {
        use super::super::filter::Range;
        let micros = |t: &str| at(t).timestamp_micros();
        let range = Range {
            gte: Some(micros("2026-01-01T00:00:00Z")),
            lt: Some(micros("2026-01-02T00:00:00Z")),
            ..Default::default()
        };
        let f = Filter::And(vec![Filter::Cond(Condition::Position(OrderField::OccurredAt, range))]);
        assert_eq!(
            bounds(&f, OrderField::OccurredAt),
            (Some(micros("2026-01-01T00:00:00Z")), Some(micros("2026-01-02T00:00:00Z") - 1))
        );
        assert_eq!(bounds(&f, OrderField::ReceivedAt), (None, None));
        assert_eq!(bounds(&Filter::Not(Box::new(f)), OrderField::OccurredAt), (None, None));
    }

    #[test]
    fn keys_order_values_before_none() {
        let k = |v: &[Option<&str>]| v.iter().map(|x| x.map(String::from)).collect::<Vec<_>>();
        assert_eq!(compare_keys(&k(&[Some("a")]), &k(&[None])), Ordering::Less);
        assert_eq!(compare_keys(&k(&[Some("a"), None]), &k(&[Some("a"), Some("b")])), Ordering::Greater);
        assert_eq!(compare_keys(&k(&[Some("B")]), &k(&[Some("a")])), Ordering::Less);
    }
}

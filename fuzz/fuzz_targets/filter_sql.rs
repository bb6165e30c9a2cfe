//! The filter translator: any filter tree (decoded from the fuzz input by a
//! small hand-rolled decoder, bounded in depth) becomes SQL for both backends
//! without panicking, and every string of the filter travels as a bound
//! parameter, never inlined into the SQL text. Each string starts with a
//! marker; the SQL must not contain it, and the bound values must.

#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use auditgraph::domain::event::{ActorType, Outcome};
use auditgraph::domain::filter::{
    ActorMatch, Condition, Filter, ResourceMatch, StrField, StrTest, TimeField, TimeRange,
};
use auditgraph::domain::ids::{ActorId, EventId, ResourceId, TenantId};
use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use sea_orm::DbBackend;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, PostgresQueryBuilder, Query, SqliteQueryBuilder};
use uuid::Uuid;

/// Starts every string the filter holds (lower-case: `text` is held lower-cased).
const MARKER: &str = "zqmarkerzq";
/// Deeper than the API allows (5), to exercise the translator past the bound.
const MAX_DEPTH: usize = 8;
const MAX_LIST: usize = 6;

/// Reads the fuzz input front to back; past its end everything is zero.
struct Input<'a> {
    data: &'a [u8],
}

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    fn below(&mut self, n: usize) -> usize {
        self.byte() as usize % n
    }

    fn bool(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        std::array::from_fn(|_| self.byte())
    }

    /// The marker, then up to 31 bytes of the input as text (any characters:
    /// quotes, backslashes, `%`, `_`, `*`, `?`, `[`, NUL…).
    fn string(&mut self) -> String {
        let n = self.below(32).min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        format!("{MARKER}{}", String::from_utf8_lossy(head))
    }

    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> T) -> Vec<T> {
        let n = self.below(MAX_LIST + 1);
        (0..n).map(|_| item(self)).collect()
    }

    fn option<T>(&mut self, item: impl FnOnce(&mut Self) -> T) -> Option<T> {
        if self.bool() { Some(item(self)) } else { None }
    }

    fn uuid(&mut self) -> Uuid {
        Uuid::from_bytes(self.bytes::<16>())
    }

    fn instant(&mut self) -> DateTime<Utc> {
        let micros = i64::from_le_bytes(self.bytes::<8>());
        DateTime::from_timestamp_micros(micros).unwrap_or(DateTime::UNIX_EPOCH)
    }

    fn int(&mut self) -> i32 {
        i32::from_le_bytes(self.bytes::<4>())
    }
}

fn str_test(inp: &mut Input) -> StrTest {
    match inp.below(4) {
        0 => StrTest::Eq(inp.string()),
        1 => StrTest::In(inp.list(Input::string)),
        2 => StrTest::Prefix(inp.string()),
        _ => StrTest::NotIn(inp.list(Input::string)),
    }
}

fn actor_match(inp: &mut Input) -> ActorMatch {
    ActorMatch {
        ids: inp.option(|i| i.list(|i| ActorId(i.uuid()))),
        types: inp.option(|i| i.list(|i| ActorType::ALL[i.below(ActorType::ALL.len())])),
        external_ids: inp.option(|i| i.list(Input::string)),
        emails: inp.option(|i| i.list(Input::string)),
    }
}

fn resource_match(inp: &mut Input) -> ResourceMatch {
    ResourceMatch {
        ids: inp.option(|i| i.list(|i| ResourceId(i.uuid()))),
        types: inp.option(|i| i.list(Input::string)),
        external_ids: inp.option(|i| i.list(Input::string)),
    }
}

fn condition(inp: &mut Input) -> Condition {
    match inp.below(12) {
        0 => {
            let field = [
                StrField::Action,
                StrField::Category,
                StrField::Environment,
                StrField::SourceService,
            ][inp.below(4)];
            Condition::Str(field, str_test(inp))
        }
        1 => Condition::Outcome(if inp.bool() { Outcome::Success } else { Outcome::Failure }),
        2 => Condition::Actor(actor_match(inp)),
        3 => Condition::Resource(resource_match(inp)),
        4 => Condition::RelatedTo(resource_match(inp)),
        5 => {
            let field = if inp.bool() {
                TimeField::OccurredAt
            } else {
                TimeField::ReceivedAt
            };
            Condition::Time(
                field,
                TimeRange {
                    gte: inp.option(Input::instant),
                    gt: inp.option(Input::instant),
                    lte: inp.option(Input::instant),
                    lt: inp.option(Input::instant),
                },
            )
        }
        6 => Condition::CorrelationId(inp.string()),
        7 => Condition::RequestId(inp.string()),
        8 => Condition::IpAddress(if inp.bool() {
            IpAddr::V4(Ipv4Addr::from(inp.bytes::<4>()))
        } else {
            IpAddr::V6(Ipv6Addr::from(inp.bytes::<16>()))
        }),
        9 => Condition::HttpStatus {
            gte: inp.option(Input::int),
            lte: inp.option(Input::int),
        },
        10 => Condition::Ids(inp.list(|i| EventId(i.uuid()))),
        _ => Condition::Text(inp.string()),
    }
}

fn filter(inp: &mut Input, depth: usize) -> Filter {
    let kinds = if depth >= MAX_DEPTH { 1 } else { 4 };
    match inp.below(kinds) {
        0 => Filter::Cond(condition(inp)),
        1 => Filter::And(inp.list(|i| filter(i, depth + 1))),
        2 => Filter::Or(inp.list(|i| filter(i, depth + 1))),
        _ => Filter::Not(Box::new(filter(inp, depth + 1))),
    }
}

/// Whether the translation must bind at least one of the filter's strings:
/// a string test, or a non-empty list of strings, anywhere in the tree.
fn binds_strings(f: &Filter) -> bool {
    let some = |l: &Option<Vec<String>>| l.as_ref().is_some_and(|l| !l.is_empty());
    match f {
        Filter::Cond(c) => match c {
            Condition::Str(_, StrTest::Eq(_) | StrTest::Prefix(_)) => true,
            Condition::Str(_, StrTest::In(l) | StrTest::NotIn(l)) => !l.is_empty(),
            Condition::Actor(m) => some(&m.external_ids) || some(&m.emails),
            Condition::Resource(m) | Condition::RelatedTo(m) => some(&m.types) || some(&m.external_ids),
            Condition::CorrelationId(_) | Condition::RequestId(_) | Condition::Text(_) => true,
            _ => false,
        },
        Filter::And(items) | Filter::Or(items) => items.iter().any(binds_strings),
        Filter::Not(inner) => binds_strings(inner),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input { data };
    let tenant = TenantId(inp.uuid());
    let f = filter(&mut inp, 1);
    for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
        let condition = auditgraph::store::filter::events(tenant, &f, backend);
        let table = Alias::new("audit_event");
        let statement = Query::select()
            .column((table.clone(), Alias::new("id")))
            .from(table.clone())
            .and_where(Expr::col((table, Alias::new("tenant_id"))).eq(tenant.0))
            .and_where(condition)
            .to_owned();
        let (sql, values) = match backend {
            DbBackend::Postgres => statement.build(PostgresQueryBuilder),
            _ => statement.build(SqliteQueryBuilder),
        };
        assert!(
            !sql.contains(MARKER),
            "{backend:?}: a filter string was inlined into the SQL: {sql}"
        );
        let bound = values.0.iter().any(|v| format!("{v:?}").contains(MARKER));
        assert_eq!(
            bound,
            binds_strings(&f),
            "{backend:?}: the filter's strings are bound parameters: {sql} {values:?} for {f:?}"
        );
    }
});

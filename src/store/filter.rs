//! Filter → SQL. Every condition is two-valued (never SQL NULL), so `NOT F`
//! selects exactly the events `F` does not: a test on a column that is null is
//! false, and its negation true. Subqueries are bound to the tenant too.

use entity::{actor, audit_event as ev, event_resource, resource};
use sea_orm::DbBackend;
use sea_orm::sea_query::{BinOper, Condition, Expr, ExprTrait, Query, SelectStatement, SimpleExpr};

use crate::domain::filter::{ActorMatch, Condition as Cond, Filter, Range, ResourceMatch, StrField, StrTest};
use crate::domain::ids::TenantId;

fn always() -> SimpleExpr {
    Expr::cust("1 = 1")
}

fn never() -> SimpleExpr {
    Expr::cust("1 = 0")
}

/// The SQL condition selecting the tenant's events that `filter` matches
/// (the tenant's own condition is added by the caller).
pub fn events(tenant: TenantId, filter: &Filter, backend: DbBackend) -> SimpleExpr {
    translate(tenant, filter, backend, Purpose::Page)
}

/// The same condition, for counting every match rather than walking an order.
pub fn events_to_count(tenant: TenantId, filter: &Filter, backend: DbBackend) -> SimpleExpr {
    translate(tenant, filter, backend, Purpose::Count)
}

/// What a condition serves. A page walks the time index newest first and stops
/// at its limit; a count visits every match, best through the action index.
/// Under a prepared statement's generic plan PostgreSQL guesses that an index
/// range on a prefix matches one row: for a page it then picks the action
/// index and sorts every match (14 ms where the time index takes under 1 ms,
/// on a 341,000-event tenant, measured), for a count that range is what makes
/// it fast. So only counts get the range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Purpose {
    Page,
    Count,
}

fn translate(tenant: TenantId, filter: &Filter, backend: DbBackend, purpose: Purpose) -> SimpleExpr {
    let events = |tenant, f, backend| translate(tenant, f, backend, purpose);
    match filter {
        Filter::Cond(c) => condition(tenant, c, backend, purpose),
        Filter::And(items) if items.is_empty() => always(),
        Filter::Or(items) if items.is_empty() => never(),
        Filter::And(items) => items.iter().fold(Condition::all(), |acc, f| acc.add(events(tenant, f, backend))).into(),
        Filter::Or(items) => items.iter().fold(Condition::any(), |acc, f| acc.add(events(tenant, f, backend))).into(),
        Filter::Not(inner) => events(tenant, inner, backend).not(),
    }
}

fn str_column(field: StrField) -> (ev::Column, bool) {
    match field {
        StrField::Action => (ev::Column::Action, false),
        StrField::Category => (ev::Column::Category, false),
        StrField::Environment => (ev::Column::Environment, true),
        StrField::SourceService => (ev::Column::SourceService, true),
    }
}

/// `col IS NOT NULL AND test` for nullable columns: false rather than NULL.
fn present(col: ev::Column, nullable: bool, test: SimpleExpr) -> SimpleExpr {
    if nullable { Expr::col((ev::Entity, col)).is_not_null().and(test) } else { test }
}

/// Escapes a literal for `LIKE … ESCAPE '\'`.
pub fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Escapes a literal for SQLite's `GLOB`, which is case-sensitive (SQLite's
/// `LIKE` is not) and can use an index for a prefix.
fn glob_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        match c {
            '*' | '?' | '[' => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            c => out.push(c),
        }
    }
    out
}

/// The least string after every string that starts with `prefix`, in code
/// point order (which is UTF-8 byte order, the order of `COLLATE "C"` and of
/// SQLite's BINARY); `None` when no string is (an empty prefix, say).
pub fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last as u32 + 1 {
            0xD800 => 0xE000, // skip the surrogates, which are not chars
            n => n,
        };
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// `col` starts with the literal `prefix`, case-sensitively, on either backend.
/// For counts, range bounds let an index serve it even in a prepared statement
/// whose plan cannot look inside the pattern; the pattern keeps it exact.
fn starts_with(col: SimpleExpr, prefix: &str, backend: DbBackend, purpose: Purpose) -> SimpleExpr {
    let pattern = match backend {
        // SQLite's LIKE ignores ASCII case; GLOB does not.
        DbBackend::Sqlite => col.clone().binary(BinOper::Custom("GLOB"), format!("{}*", glob_literal(prefix))),
        // The column is `COLLATE "C"`, so LIKE is bytewise.
        _ => col.clone().like(sea_orm::sea_query::LikeExpr::new(format!("{}%", like_literal(prefix))).escape('\\')),
    };
    if purpose == Purpose::Page {
        return pattern;
    }
    let mut c = Condition::all().add(col.clone().gte(prefix));
    if let Some(end) = prefix_end(prefix) {
        c = c.add(col.lt(end));
    }
    c.add(pattern).into()
}

fn condition(tenant: TenantId, cond: &Cond, backend: DbBackend, purpose: Purpose) -> SimpleExpr {
    let col = |c: ev::Column| Expr::col((ev::Entity, c));
    match cond {
        Cond::Str(field, test) => {
            let (c, nullable) = str_column(*field);
            match test {
                StrTest::Eq(v) => present(c, nullable, col(c).eq(v.as_str())),
                StrTest::In(vs) if vs.is_empty() => never(),
                StrTest::In(vs) => present(c, nullable, col(c).is_in(vs.iter().map(String::as_str))),
                StrTest::Prefix(p) => present(c, nullable, starts_with(col(c), p, backend, purpose)),
                StrTest::NotIn(vs) if vs.is_empty() => always(),
                StrTest::NotIn(vs) => {
                    let not_in = col(c).is_not_in(vs.iter().map(String::as_str));
                    if nullable { col(c).is_null().or(not_in) } else { not_in }
                }
            }
        }
        Cond::Outcome(o) => col(ev::Column::Outcome).eq(o.as_str()),
        Cond::Actor(m) => col(ev::Column::ActorId).in_subquery(
            Query::select()
                .column(actor::Column::Id)
                .from(actor::Entity)
                .and_where(Expr::col(actor::Column::TenantId).eq(tenant.0))
                .cond_where(actor_match(m))
                .to_owned(),
        ),
        Cond::Resource(m) => {
            present(ev::Column::ResourceId, true, col(ev::Column::ResourceId).in_subquery(resource_ids(tenant, m)))
        }
        Cond::RelatedTo(m) => col(ev::Column::Id).in_subquery(
            Query::select()
                .column(event_resource::Column::EventId)
                .from(event_resource::Entity)
                .and_where(Expr::col(event_resource::Column::TenantId).eq(tenant.0))
                .and_where(Expr::col(event_resource::Column::ResourceId).in_subquery(resource_ids(tenant, m)))
                .to_owned(),
        ),
        Cond::Position(field, bounds) => {
            let closed = (bounds.gte.is_some() || bounds.gt.is_some()) && (bounds.lte.is_some() || bounds.lt.is_some());
            range(col(super::events::sort_column(*field)), bounds, |key| {
                super::events::range_bound(*field, key, closed, backend)
            })
        }
        Cond::CorrelationId(v) => {
            present(ev::Column::CorrelationId, true, col(ev::Column::CorrelationId).eq(v.as_str()))
        }
        Cond::RequestId(v) => present(ev::Column::RequestId, true, col(ev::Column::RequestId).eq(v.as_str())),
        Cond::IpAddress(ip) => present(ev::Column::RequestIp, true, col(ev::Column::RequestIp).eq(ip.to_string())),
        Cond::HttpStatus { gte, lte } => {
            let mut c = Condition::all().add(col(ev::Column::RequestStatus).is_not_null());
            if let Some(gte) = gte {
                c = c.add(col(ev::Column::RequestStatus).gte(*gte));
            }
            if let Some(lte) = lte {
                c = c.add(col(ev::Column::RequestStatus).lte(*lte));
            }
            c.into()
        }
        Cond::Ids(ids) => list((ev::Entity, ev::Column::Id), ids.iter().map(|id| id.0)),
        Cond::Text(t) => col(ev::Column::SearchText)
            .like(sea_orm::sea_query::LikeExpr::new(format!("%{}%", like_literal(t))).escape('\\')),
        Cond::Metadata(c) => super::metadata::condition(c, backend),
        Cond::Changes(tests) => super::metadata::changes(tests, backend),
        Cond::Search(terms) => super::words::condition(terms, backend, purpose),
    }
}

fn range<T: Copy>(col: SimpleExpr, r: &Range<T>, value: impl Fn(T) -> SimpleExpr) -> SimpleExpr {
    let mut c = Condition::all();
    if let Some(v) = r.gte {
        c = c.add(col.clone().gte(value(v)));
    }
    if let Some(v) = r.gt {
        c = c.add(col.clone().gt(value(v)));
    }
    if let Some(v) = r.lte {
        c = c.add(col.clone().lte(value(v)));
    }
    if let Some(v) = r.lt {
        c = c.add(col.lt(value(v)));
    }
    if c.is_empty() { always() } else { c.into() }
}

/// Conditions on the `actor` table's own columns.
pub fn actor_match(m: &ActorMatch) -> Condition {
    let mut c = Condition::all();
    if let Some(ids) = &m.ids {
        c = c.add(list(actor::Column::Id, ids.iter().map(|id| id.0)));
    }
    if let Some(types) = &m.types {
        c = c.add(list(actor::Column::Kind, types.iter().map(|t| t.as_str())));
    }
    if let Some(ext) = &m.external_ids {
        c = c.add(list(actor::Column::ExternalId, ext.iter().map(String::as_str)));
    }
    if let Some(emails) = &m.emails {
        c = c.add(list(actor::Column::Email, emails.iter().map(String::as_str)));
    }
    c
}

/// Conditions on the `resource` table's own columns.
pub fn resource_match(m: &ResourceMatch) -> Condition {
    let mut c = Condition::all();
    if let Some(ids) = &m.ids {
        c = c.add(list(resource::Column::Id, ids.iter().map(|id| id.0)));
    }
    if let Some(types) = &m.types {
        c = c.add(list(resource::Column::Kind, types.iter().map(String::as_str)));
    }
    if let Some(ext) = &m.external_ids {
        c = c.add(list(resource::Column::ExternalId, ext.iter().map(String::as_str)));
    }
    c
}

/// `col IN (values)`, or false for an empty list.
fn list<C, V>(col: C, values: impl ExactSizeIterator<Item = V>) -> SimpleExpr
where
    C: sea_orm::sea_query::IntoColumnRef,
    V: Into<sea_orm::Value>,
{
    if values.len() == 0 { never() } else { Expr::col(col).is_in(values) }
}

fn resource_ids(tenant: TenantId, m: &ResourceMatch) -> SelectStatement {
    Query::select()
        .column(resource::Column::Id)
        .from(resource::Entity)
        .and_where(Expr::col(resource::Column::TenantId).eq(tenant.0))
        .cond_where(resource_match(m))
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ends_bound_every_extension() {
        assert_eq!(prefix_end("api_key.").as_deref(), Some("api_key/"));
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_end(""), None);
        assert_eq!(prefix_end("\u{10FFFF}"), None);
        let end = prefix_end("work").unwrap();
        for s in ["work", "workspace.create", "work\u{10FFFF}x"] {
            assert!(s >= "work" && s < end.as_str(), "{s}");
        }
        assert!("worl" >= end.as_str());
    }

    #[test]
    fn closed_range_bounds_are_written_into_postgres_statements() {
        use crate::domain::cursor::OrderField;
        let micros = 1_765_000_000_000_123;
        let range = Range { gte: Some(micros), lt: Some(micros + 1), ..Default::default() };
        let filter = Filter::Cond(Cond::Position(OrderField::OccurredAt, range));
        let statement = |filter: &Filter, backend: DbBackend| {
            let mut query = Query::select();
            query.column(ev::Column::Id).from(ev::Entity).and_where(events(
                TenantId(uuid::Uuid::nil()),
                &filter,
                backend,
            ));
            backend.build(&query)
        };
        let postgres = statement(&filter, DbBackend::Postgres);
        assert!(
            postgres.sql.contains(r#""occurred_at" >= (CAST('2025-12-06T05:46:40.000123Z' AS timestamptz))"#),
            "{}",
            postgres.sql
        );
        assert_eq!(postgres.values.map_or(0, |v| v.0.len()), 0);
        // Only PostgreSQL keeps generic plans; SQLite binds them as before.
        assert_eq!(statement(&filter, DbBackend::Sqlite).values.map_or(0, |v| v.0.len()), 2);
        // A range open at one end keeps its bound a parameter.
        let open =
            Filter::Cond(Cond::Position(OrderField::OccurredAt, Range { gte: Some(micros), ..Default::default() }));
        assert_eq!(statement(&open, DbBackend::Postgres).values.map_or(0, |v| v.0.len()), 1);
    }

    #[test]
    fn escapes_wildcards() {
        assert_eq!(like_literal("api_key.%\\"), "api\\_key.\\%\\\\");
        assert_eq!(glob_literal("a*b?[c]"), "a[*]b[?][[]c]");
    }
}

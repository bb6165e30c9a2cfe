//! Reading audit events: look-ups, keyset pages, counts and the log in
//! sequence order. Recording is in `recording.rs`; neither updates nor
//! deletes, by design.

use chrono::{DateTime, Utc};
use entity::{actor, audit_event as ev, resource};
use sea_orm::sea_query::{
    Alias, ArrayType, Asterisk, Expr, ExprTrait, JoinType, Order, Query, SelectStatement, SimpleExpr,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, Iterable, QueryFilter, QueryOrder, QueryResult,
};
use uuid::Uuid;

use crate::domain::cursor::{EventOrder, OrderField, SortDirection, SortKey};
use crate::domain::filter::{Condition, Filter, Range};
use crate::domain::ids::{ActorId, EventId, TenantId};
use crate::domain::page::{Page, PageResult};
use crate::domain::selection::{Detail, Joined, Joins};
use crate::domain::stored_event::StoredEvent;
use crate::error::Result;

use super::filter;
use super::keyset::Keyset;

#[tracing::instrument(name = "db.events.by_idempotency_keys", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn by_idempotency_keys(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    keys: &[&str],
) -> Result<Vec<StoredEvent>> {
    let mut out = Vec::new();
    for chunk in keys.chunks(super::recording::EVENT_CHUNK) {
        out.extend(
            ev::Entity::find()
                .filter(ev::Column::TenantId.eq(tenant.0))
                .filter(ev::Column::IdempotencyKey.is_in(chunk.iter().copied()))
                .all(db)
                .await?
                .into_iter()
                .map(super::row::stored_event)
                .collect::<Result<Vec<_>, DbErr>>()?,
        );
    }
    Ok(out)
}

/// The tenant's events with these IDs (missing or foreign ones are absent).
#[tracing::instrument(name = "db.events.by_ids", skip_all, fields(tenant = %tenant, n = ids.len()), err(Debug))]
pub async fn by_ids(db: &impl ConnectionTrait, tenant: TenantId, ids: &[EventId]) -> Result<Vec<StoredEvent>> {
    let rows = ev::Entity::find()
        .filter(ev::Column::TenantId.eq(tenant.0))
        .filter(super::sql::any_of(
            db.get_database_backend(),
            ev::Column::Id,
            ids.iter().map(|id| id.0).collect(),
            ArrayType::Uuid,
        ))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(super::row::stored_event).collect::<Result<_, DbErr>>()?)
}

pub(super) fn sort_column(field: OrderField) -> ev::Column {
    match field {
        OrderField::OccurredAt => ev::Column::OccurredAt,
        OrderField::ReceivedAt => ev::Column::ReceivedAt,
        OrderField::Sequence => ev::Column::Sequence,
    }
}

/// A sort key as the SQL value its column compares with.
pub(super) fn sort_value(field: OrderField, key: SortKey) -> SimpleExpr {
    match field {
        OrderField::Sequence => Expr::val(key),
        _ => Expr::val(instant(key)),
    }
}

/// Cursors and ranges only hold instants from 1970 to 9999 (checked on decode).
fn instant(key: SortKey) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(key).unwrap_or_default()
}

/// A bound of a range of sort keys, as SQL. On PostgreSQL the bounds of a
/// range `closed` at both ends are written into the statement's text instead
/// of bound. A prepared statement's generic plan, which PostgreSQL may keep
/// from the sixth execution on, cannot know how many events a bound range
/// holds: for a closed one it guesses 0.5 % of the table, a few rows once the
/// other conditions count, and then reads and sorts every event of the range
/// (155 ms for `workspace.` + 7 days on 1,000,000 events) instead of walking
/// the `(tenant_id, sort key, id)` index and stopping at the page's end
/// (under 4 ms). With the bounds in the text the one plan is made for them,
/// and a range that repeats (a saved view, the chunks of an export) keeps it.
/// A range open at one end (the console's "last 7 days") stays bound: its
/// generic plan guesses a third of the table and walks the index, which is
/// right, while a new text for every instant would be planned on every
/// request. `plan_cache_mode = force_custom_plan` was the other way: for the
/// whole connection it re-plans the statements whose generic plan is right
/// too, and per statement it costs a transaction and a `SET LOCAL` each
/// (BENCHMARKS.md, issue 27). Cursors stay bound: they only start a walk.
pub(super) fn range_bound(field: OrderField, key: SortKey, closed: bool, backend: DbBackend) -> SimpleExpr {
    match (backend, field) {
        (DbBackend::Postgres, OrderField::Sequence) if closed => Expr::cust(key.to_string()),
        (DbBackend::Postgres, _) if closed => Expr::cust(format!(
            "CAST('{}' AS timestamptz)",
            instant(key).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        )),
        _ => sort_value(field, key),
    }
}

/// A keyset page ([`Keyset`]): `(sort key, id)` compared as a row value,
/// served by the `(tenant_id, sort key, id)` index in either direction.
#[tracing::instrument(name = "db.events.page", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn page(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    filter: &Filter,
    order: EventOrder,
    page: &Page<(SortKey, Uuid)>,
    detail: Detail,
) -> Result<PageResult<StoredEvent>> {
    let rows = page_joined(db, tenant, filter, order, page, detail, Joins::default()).await?;
    Ok(PageResult {
        items: rows.items.into_iter().map(|joined| joined.event).collect(),
        has_next_page: rows.has_next_page,
        has_previous_page: rows.has_previous_page,
    })
}

const PAGE_ALIAS: &str = "p";

/// A keyset page as [`page`] fetches it, with the actors and primary resources
/// `joins` asks for joined to its rows: one round trip instead of three. The
/// page's own statement is unchanged (a subquery with its `LIMIT` keeps its
/// plan); the joins add a primary-key lookup per row, in the page's tenant.
#[tracing::instrument(name = "db.events.page_joined", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn page_joined(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    filter: &Filter,
    order: EventOrder,
    page: &Page<(SortKey, Uuid)>,
    detail: Detail,
    joins: Joins,
) -> Result<PageResult<Joined>> {
    let backend = db.get_database_backend();
    let travels_back = (order.direction == SortDirection::Desc) != page.backward;
    let by_month = backend == DbBackend::Postgres
        && travels_back
        && order.field != OrderField::Sequence
        && filter.any_condition(&|c| matches!(c, Condition::Search(_)));
    if !by_month {
        let statement = page_statement(tenant, filter, order, page, detail, joins, backend);
        return Ok(page.finish(joined_rows(db, statement, joins).await?));
    }
    // Newest months first, until the page cannot change (see `MonthWindow`).
    let wanted = page.fetch_limit() as usize;
    let key = |row: &Joined| (sort_instant(order.field, &row.event), row.event.id.0);
    let mut rows: Vec<Joined> = Vec::new();
    for window in MonthWindow::newest_first(Utc::now()) {
        let narrowed = filter.clone().and(window.filter());
        let statement = page_statement(tenant, &narrowed, order, page, detail, joins, backend);
        rows.extend(joined_rows(db, statement, joins).await?);
        rows.sort_by(|a, b| key(b).cmp(&key(a)));
        rows.truncate(wanted);
        if rows.len() == wanted && window.holds_every_later(order.field, key(&rows[wanted - 1]).0) {
            break;
        }
    }
    Ok(page.finish(rows))
}

/// A page's rows with the actors and primary resources `joins` asked for,
/// from a statement of [`page_statement`].
async fn joined_rows(db: &impl ConnectionTrait, statement: sea_orm::Statement, joins: Joins) -> Result<Vec<Joined>> {
    // Columns in order: the event's (`p.*`), then the actor's, then the resource's.
    let actor_at = super::row::width::<ev::Entity>();
    let resource_at = actor_at + if joins.actor { super::row::width::<actor::Entity>() } else { 0 };
    let present = |row: &QueryResult, base: usize| row.try_get_by_index::<Option<Uuid>>(base).map(|id| id.is_some());
    let mut rows = Vec::new();
    for row in db.query_all_raw(statement).await? {
        let actor = match joins.actor && present(&row, actor_at)? {
            true => Some(super::row::actor(&row, actor_at)?),
            false => None,
        };
        let resource = match joins.resource && present(&row, resource_at)? {
            true => Some(super::row::resource(&row, resource_at)?),
            false => None,
        };
        rows.push(Joined { event: super::row::event(&row, 0)?, actor, resource });
    }
    Ok(rows)
}

fn sort_instant(field: OrderField, event: &StoredEvent) -> DateTime<Utc> {
    match field {
        OrderField::ReceivedAt => event.received_at,
        _ => event.occurred_at,
    }
}

/// A month of `received_at` (open at the newest and the oldest end) that a
/// newest-first page of a `search` reads alone on PostgreSQL. Its plan for a
/// rare word reads every match from the words' index, then their rows, then
/// sorts them: over all months 13,400 rows and 68 ms for a word on 1.4 % of
/// 1,000,000 events, where the newest month alone fills the page
/// (BENCHMARKS.md, issue 24). Bounded by `received_at`, the partitions'
/// key, each statement reads one partition. Older months can only hold
/// events that occurred before the month's start plus [`LATE_MARGIN`], so
/// once the page's last row is past that, the rest is not read.
struct MonthWindow {
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
}

/// How far past its receipt an event may have occurred: the recording's
/// clock-skew allowance (`domain::event::MAX_CLOCK_SKEW`), with room for the
/// time between validating an event and stamping its receipt.
const LATE_MARGIN: chrono::Duration = chrono::Duration::hours(1);

/// Months read one at a time before the rest is read at once.
const SINGLE_MONTHS: u32 = 3;

impl MonthWindow {
    fn newest_first(now: DateTime<Utc>) -> Vec<MonthWindow> {
        use chrono::Months;
        let this_month = super::partitions::Month::of(now).map_or(now, |month| month.from);
        let start = |back: u32| this_month.checked_sub_months(Months::new(back));
        let mut windows = vec![MonthWindow { from: start(0), until: None }];
        for back in 1..SINGLE_MONTHS {
            windows.push(MonthWindow { from: start(back), until: start(back - 1) });
        }
        windows.push(MonthWindow { from: None, until: start(SINGLE_MONTHS - 1) });
        windows
    }

    fn filter(&self) -> Filter {
        let micros = |at: Option<DateTime<Utc>>| at.map(|at| at.timestamp_micros());
        let range = Range { gte: micros(self.from), lt: micros(self.until), ..Range::default() };
        Filter::Cond(Condition::Position(OrderField::ReceivedAt, range))
    }

    /// Whether every event of the older months sorts after `last` on `field`.
    fn holds_every_later(&self, field: OrderField, last: DateTime<Utc>) -> bool {
        let margin = if field == OrderField::ReceivedAt { chrono::Duration::zero() } else { LATE_MARGIN };
        self.from.is_some_and(|from| last >= from + margin)
    }
}

/// Joins to a page the row of `E` whose ID is in the page's column `id`, in
/// the page's tenant, as `alias`, and selects its columns in order.
fn join_by_id<E: EntityTrait + Default>(
    query: &mut SelectStatement,
    backend: DbBackend,
    alias: &'static str,
    id: ev::Column,
) {
    let p = Alias::new(PAGE_ALIAS);
    let key = |table: Alias| {
        Expr::col((table.clone(), Alias::new("tenant_id")))
            .equals((p.clone(), ev::Column::TenantId))
            .and(Expr::col((table, Alias::new("id"))).equals((p.clone(), id)))
    };
    for column in E::Column::iter() {
        query.column((Alias::new(alias), column));
    }
    match backend {
        // A primary-key probe per row. Left to itself, PostgreSQL would rather
        // scan and hash a small table (a tenant's actors) on every page, which
        // costs more than the page itself; the LIMIT keeps the subquery from
        // being flattened into that join.
        DbBackend::Postgres => {
            let one = Alias::new("one");
            let mut row = Query::select();
            row.columns(E::Column::iter().map(|c| (one.clone(), c))).from_as(E::default(), one.clone());
            row.and_where(key(one)).limit(1);
            query.join_lateral(JoinType::LeftJoin, row, Alias::new(alias), Expr::cust("TRUE"));
        }
        _ => {
            query.join_as(JoinType::LeftJoin, E::default(), Alias::new(alias), key(Alias::new(alias)));
        }
    }
}

/// The key events are shown in. A sequence is unique in its tenant: it alone
/// is the key, and the `(tenant_id, sequence)` index serves it. Instants
/// tie-break on the ID.
fn keyset(order: EventOrder) -> Keyset {
    let ascending = order.direction == SortDirection::Asc;
    match order.field {
        OrderField::Sequence => Keyset::new([ev::Column::Sequence], ascending),
        field => Keyset::new([sort_column(field), ev::Column::Id], ascending),
    }
}

/// Selects every column of `audit_event`, with constants for what `detail` leaves out.
fn select_columns(query: &mut SelectStatement, detail: Detail, backend: DbBackend) {
    let json = |text: &'static str| match backend {
        DbBackend::Postgres => Expr::cust(format!("'{text}'::jsonb")),
        _ => Expr::cust(format!("'{text}'")),
    };
    // PostgreSQL types a bare NULL as text; the decoder wants the column's type.
    let null = |sql_type: &str| match backend {
        DbBackend::Postgres => Expr::cust(format!("CAST(NULL AS {sql_type})")),
        _ => Expr::cust("NULL"),
    };
    use ev::Column as C;
    for column in ev::Column::iter() {
        let constant = match column {
            // Only the `text` and `search` filters read them, in SQL.
            C::SearchText | C::SearchWords => Some(Expr::cust("''")),
            C::Metadata if !detail.metadata => Some(json("{}")),
            C::Changes if !detail.changes => Some(json("[]")),
            C::Recorded if !detail.recorded => Some(json("{}")),
            C::Summary | C::Reason | C::ErrorMessage if !detail.texts => Some(null("text")),
            C::HasRequest if !detail.request => Some(Expr::cust("1 = 0")),
            C::RequestStatus if !detail.request => Some(null("integer")),
            C::RequestLatencyMs if !detail.request => Some(null("double precision")),
            C::RequestId | C::RequestMethod | C::RequestPath | C::RequestIp | C::RequestUserAgent
                if !detail.request =>
            {
                Some(null("text"))
            }
            _ => None,
        };
        match constant {
            Some(expr) => query.expr_as(expr, column),
            None => query.column((ev::Entity, column)),
        };
    }
}

/// The statement [`page_joined`] sends, as the database receives it
/// (exposed so tests can read the plans it gets once prepared).
pub fn page_statement(
    tenant: TenantId,
    filter: &Filter,
    order: EventOrder,
    page: &Page<(SortKey, Uuid)>,
    detail: Detail,
    joins: Joins,
    backend: DbBackend,
) -> sea_orm::Statement {
    let inner = page_query(tenant, filter, order, page, detail, backend);
    if joins == Joins::default() {
        return super::sql::with_literal_limits(backend.build(&inner));
    }
    let p = Alias::new(PAGE_ALIAS);
    let mut query = Query::select();
    query.column((p.clone(), Asterisk)).from_subquery(inner, p.clone());
    if joins.actor {
        join_by_id::<actor::Entity>(&mut query, backend, "a", ev::Column::ActorId);
    }
    if joins.resource {
        join_by_id::<resource::Entity>(&mut query, backend, "r", ev::Column::ResourceId);
    }
    // A join keeps no order of its input: the page's is applied again.
    keyset(order).order(&mut query, p, page);
    super::sql::with_literal_limits(backend.build(&query))
}

/// The query behind [`page`] (exposed so tests can read its plan).
pub fn page_query(
    tenant: TenantId,
    filter: &Filter,
    order: EventOrder,
    page: &Page<(SortKey, Uuid)>,
    detail: Detail,
    backend: DbBackend,
) -> SelectStatement {
    let mut query = Query::select();
    select_columns(&mut query, detail, backend);
    query
        .from(ev::Entity)
        .and_where(Expr::col((ev::Entity, ev::Column::TenantId)).eq(tenant.0))
        .and_where(filter::events(tenant, filter, backend));
    keyset(order).narrow(&mut query, ev::Entity, page, |&(at, id)| vec![sort_value(order.field, at), Expr::val(id)]);
    query
}

/// How many of the tenant's events match the filter.
#[tracing::instrument(name = "db.events.count", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn count(db: &impl ConnectionTrait, tenant: TenantId, filter: &Filter) -> Result<i64> {
    let backend = db.get_database_backend();
    let query = Query::select()
        .expr(Expr::cust("COUNT(*)"))
        .from(ev::Entity)
        .and_where(Expr::col((ev::Entity, ev::Column::TenantId)).eq(tenant.0))
        .and_where(filter::events_to_count(tenant, filter, backend))
        .to_owned();
    super::sql::count(db, &query).await
}

/// The tenant's events matching the filter, in recording (ID) order. For
/// filters that already bound the set, such as a list of IDs.
#[tracing::instrument(name = "db.events.matching", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn matching_in_order(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    filter: &Filter,
) -> Result<Vec<StoredEvent>> {
    let backend = db.get_database_backend();
    let rows = ev::Entity::find()
        .filter(ev::Column::TenantId.eq(tenant.0))
        .filter(filter::events(tenant, filter, backend))
        .order_by_asc(ev::Column::Id)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(super::row::stored_event).collect::<Result<_, DbErr>>()?)
}

/// The tenant's events from sequence `from` on, in sequence order, at most
/// `limit`: how exporters, deliverers and verifiers walk the log in chunks.
#[tracing::instrument(name = "db.events.by_sequence", skip_all, fields(tenant = %tenant, from), err(Debug))]
pub async fn by_sequence(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    from: u64,
    limit: u64,
) -> Result<Vec<StoredEvent>> {
    let from = Expr::col((ev::Entity, ev::Column::Sequence)).gte(from as i64);
    in_sequence(db, tenant, [from], limit).await
}

/// Every column of the tenant's events meeting `conditions`, in sequence
/// order, at most `limit`: the walks of the log in chunks.
async fn in_sequence(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    conditions: impl IntoIterator<Item = SimpleExpr>,
    limit: u64,
) -> Result<Vec<StoredEvent>> {
    let mut query = Query::select();
    select_columns(&mut query, Detail::ALL, db.get_database_backend());
    query.from(ev::Entity).and_where(Expr::col((ev::Entity, ev::Column::TenantId)).eq(tenant.0));
    for condition in conditions {
        query.and_where(condition);
    }
    query.order_by((ev::Entity, ev::Column::Sequence), Order::Asc).limit(limit);
    query_events(db, &query).await
}

/// The tenant's events matching `filter` with a sequence above `after` and at
/// most `through`, in sequence order, at most `limit`: one keyset chunk of an
/// export, served by the `(tenant_id, sequence)` index.
#[tracing::instrument(name = "db.events.matching_by_sequence", skip_all, fields(tenant = %tenant, after), err(Debug))]
pub async fn matching_by_sequence(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    filter: &Filter,
    after: u64,
    through: u64,
    limit: u64,
) -> Result<Vec<StoredEvent>> {
    let sequence = || Expr::col((ev::Entity, ev::Column::Sequence));
    let matching = filter::events(tenant, filter, db.get_database_backend());
    in_sequence(db, tenant, [sequence().gt(after as i64), sequence().lte(through as i64), matching], limit).await
}

/// The tenant's events from sequence `from` through `through` that have no
/// search words (recorded before words were stored), every column: how the
/// words' backfill walks them.
#[tracing::instrument(name = "db.events.without_words", skip_all, fields(tenant = %tenant, from), err(Debug))]
pub async fn without_words(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    from: i64,
    through: i64,
) -> Result<Vec<StoredEvent>> {
    let sequence = || Expr::col((ev::Entity, ev::Column::Sequence));
    let blank = Expr::col((ev::Entity, ev::Column::SearchWords)).eq("");
    let limit = u64::try_from(through - from + 1).unwrap_or(0);
    in_sequence(db, tenant, [sequence().gte(from), sequence().lte(through), blank], limit).await
}

/// The events a statement that selects them with [`select_columns`] returns.
async fn query_events(db: &impl ConnectionTrait, query: &SelectStatement) -> Result<Vec<StoredEvent>> {
    events_of(db, super::sql::with_literal_limits(db.get_database_backend().build(query))).await
}

/// The events a built statement of [`query_events`] returns.
async fn events_of(db: &impl ConnectionTrait, statement: sea_orm::Statement) -> Result<Vec<StoredEvent>> {
    let rows = db.query_all_raw(statement).await?;
    Ok(rows.iter().map(|row| super::row::event(row, 0)).collect::<Result<_, DbErr>>()?)
}

/// The actor's events with a sequence above `after`, in sequence order, at
/// most `limit`, every column: how an erasure walks them.
#[tracing::instrument(name = "db.events.of_actor", skip_all, fields(tenant = %tenant, after), err(Debug))]
pub async fn of_actor(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    actor: ActorId,
    after: i64,
    limit: u64,
) -> Result<Vec<StoredEvent>> {
    let of_actor = Expr::col((ev::Entity, ev::Column::ActorId)).eq(actor.0);
    in_sequence(db, tenant, [of_actor, Expr::col((ev::Entity, ev::Column::Sequence)).gt(after)], limit).await
}

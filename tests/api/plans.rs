//! On PostgreSQL with 100,000 events spread over months (the events table is
//! partitioned by month of `receivedAt`), the statements of a first page, a
//! deep page, an action-prefix + time-range page, sequence tails, look-ups by
//! ID and by related resource use an index in every month they read, never a
//! sequential scan; a `receivedAt` range reads only the months it covers, and
//! a page in `receivedAt` order reads the months newest first. The pages the
//! benchmark, the console and the REST door send keep such plans once their
//! statement has run more than five times prepared, as the server's
//! connections run it (PostgreSQL's generic plan takes over from the sixth).

use auditgraph::domain::cursor::{EventOrder, OrderField, SortDirection};
use std::collections::BTreeSet;

use auditgraph::domain::event::Outcome;
use auditgraph::domain::filter::{ActorMatch, Condition, Filter, Range, ResourceMatch, StrField, StrTest};
use auditgraph::domain::ids::{ActorId, EventId, ResourceId};
use auditgraph::domain::page::PageArgs;
use auditgraph::domain::selection::{Detail, Joins};
use auditgraph::store::events;
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use uuid::Uuid;

use crate::helpers::{Backend, TestApp, postgres_url};

/// When the filled events were received.
#[derive(Clone, Copy, PartialEq)]
enum Received {
    /// As they occurred, over months: each month's partition holds its own.
    AsTheyOccurred,
    /// All now, in this month's partition, as a bulk import or the default
    /// benchmark seed leaves them: one large partition among empty ones.
    Now,
}

async fn fill(app: &TestApp, events: u32, received: Received) {
    let tenant = app.tenant.0;
    let other = app.create_tenant("noise").await.0;
    let sql = format!(
        r#"
        SELECT auditgraph_ensure_partition(now() - k * interval '1 month') FROM generate_series(0, {months_back}) k;
        INSERT INTO actor (id, tenant_id, type, external_id, display_name, created_at, updated_at)
            SELECT md5('a' || i)::uuid, '{tenant}', 'USER', 'u' || i, 'User ' || i, now(), now() FROM generate_series(1, 2000) i;
        INSERT INTO resource (id, tenant_id, type, external_id, name, created_at, updated_at)
            SELECT md5('r' || i)::uuid, '{tenant}', (ARRAY['workspace', 'vm', 'session'])[1 + i % 3], 'r' || i, 'Res ' || i, now(), now()
            FROM generate_series(1, 2000) i;
        INSERT INTO actor (id, tenant_id, type, external_id, created_at, updated_at)
            VALUES (md5('other')::uuid, '{other}', 'USER', 'x', now(), now());
        INSERT INTO audit_event (id, tenant_id, action, category, outcome, occurred_at, received_at, actor_id, resource_id,
                                 has_request, metadata, changes, search_text, sequence, recorded)
            SELECT md5('e' || i)::uuid, CASE WHEN i % 5 = 0 THEN '{other}'::uuid ELSE '{tenant}'::uuid END,
                   a.action, split_part(a.action, '.', 1), CASE WHEN i % 10 = 0 THEN 'FAILURE' ELSE 'SUCCESS' END,
                   now() - i * interval '37 seconds', {received_at},
                   CASE WHEN i % 5 = 0 THEN md5('other')::uuid ELSE md5('a' || (1 + i % 2000))::uuid END,
                   CASE WHEN i % 5 = 0 THEN NULL ELSE md5('r' || (1 + i % 2000))::uuid END,
                   false, '{{}}'::jsonb, '[]'::jsonb, a.action, 1000 + i, '{{}}'::jsonb
            FROM generate_series(1, {total}) i,
                 LATERAL (SELECT (ARRAY['workspace.create', 'workspace.snapshot.create', 'session.exec', 'api_key.create',
                                        'users.auth.login', 'sandbox.created', 'ledger.transaction.post'])[1 + i % 7] AS action) a;
        INSERT INTO event_resource (event_id, position, tenant_id, resource_id, received_at)
            SELECT id, 0, tenant_id, resource_id, received_at FROM audit_event e WHERE resource_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM event_resource l WHERE l.event_id = e.id);
        ANALYZE;
        "#,
        total = events * 5 / 4,
        months_back = if received == Received::Now { 0 } else { 3 },
        received_at = match received {
            Received::AsTheyOccurred => "now() - i * interval '37 seconds'",
            Received::Now => "now()",
        },
    );
    app.store.db().execute_unprepared(&sql).await.expect("bulk insert");
}

async fn plan(app: &TestApp, query: &sea_orm::sea_query::SelectStatement) -> String {
    let built = DbBackend::Postgres.build(query);
    let explain = Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("EXPLAIN {}", built.sql),
        built.values.map(|v| v.0).unwrap_or_default(),
    );
    let rows = app.store.db().query_all_raw(explain).await.expect("explain");
    rows.iter().map(|r| r.try_get_by_index::<String>(0).unwrap()).collect::<Vec<_>>().join("\n")
}

fn assert_indexed(plan: &str, what: &str) {
    eprintln!("{what}:\n{plan}\n");
    assert!(plan.contains("Index"), "{what} uses no index:\n{plan}");
    // A month with no rows yet (the ones made ahead) is rightly read whole:
    // there is nothing to read.
    let scans =
        plan.lines().filter(|l| l.contains("Seq Scan on audit_event") || l.contains("Seq Scan on event_resource"));
    for scan in scans {
        assert!(scan.contains("cost=0.00..0.00 "), "{what} scans events:\n{plan}");
    }
}

/// The months of the events table a plan reads (`audit_event_pYYYY_MM`).
fn months_read(plan: &str) -> BTreeSet<String> {
    plan.split(" on ")
        .skip(1)
        .filter_map(|rest| rest.strip_prefix("audit_event_p"))
        .map(|rest| rest.chars().take(7).collect())
        .collect()
}

fn month_of(at: DateTime<Utc>) -> String {
    at.format("%Y_%m").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_served_by_indexes_on_postgres() {
    if postgres_url().is_none() {
        eprintln!("PostgreSQL URL not set: skipped");
        return;
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    fill(&app, 100_000, Received::AsTheyOccurred).await;
    let order = EventOrder { field: OrderField::OccurredAt, direction: SortDirection::Desc };
    let first = PageArgs { first: Some(50), ..Default::default() }
        .into_page(|_, _| Ok((Utc::now().timestamp_micros(), Uuid::nil())))
        .unwrap();
    assert_indexed(
        &plan(&app, &events::page_query(app.tenant, &Filter::all(), order, &first, Detail::ALL, DbBackend::Postgres))
            .await,
        "the first page",
    );

    let row = app
        .store
        .db()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT occurred_at, id FROM audit_event WHERE tenant_id = $1 ORDER BY occurred_at DESC, id DESC OFFSET 50000 LIMIT 1",
            [app.tenant.0.into()],
        ))
        .await
        .unwrap()
        .expect("50,000 events");
    let at: DateTime<Utc> = row.try_get_by_index(0).unwrap();
    let cursor = (at.timestamp_micros(), row.try_get_by_index(1).unwrap());
    let mut deep = first.clone();
    deep.after = Some(cursor);
    assert_indexed(
        &plan(&app, &events::page_query(app.tenant, &Filter::all(), order, &deep, Detail::ALL, DbBackend::Postgres))
            .await,
        "a deep page",
    );

    let week = Filter::And(vec![
        Filter::Cond(Condition::Str(StrField::Action, StrTest::Prefix("workspace.snapshot.".into()))),
        Filter::Cond(Condition::Position(
            OrderField::OccurredAt,
            Range { gte: Some(Utc::now() - Duration::days(7)), lt: Some(Utc::now()), ..Default::default() }
                .map(|at| at.timestamp_micros()),
        )),
    ]);
    assert_indexed(
        &plan(&app, &events::page_query(app.tenant, &week, order, &first, Detail::ALL, DbBackend::Postgres)).await,
        "an action-prefix + 7-day page",
    );

    // A receivedAt range reads only its months: the partitions outside it are
    // pruned from the plan.
    let (from, to) = (Utc::now() - Duration::days(7), Utc::now());
    let received = Filter::Cond(Condition::Position(
        OrderField::ReceivedAt,
        Range { gte: Some(from), lt: Some(to), ..Default::default() }.map(|at| at.timestamp_micros()),
    ));
    let p =
        plan(&app, &events::page_query(app.tenant, &received, order, &first, Detail::ALL, DbBackend::Postgres)).await;
    assert_indexed(&p, "a 7-day receivedAt page");
    let all_months = months_read(
        &plan(&app, &events::page_query(app.tenant, &Filter::all(), order, &first, Detail::ALL, DbBackend::Postgres))
            .await,
    );
    assert!(all_months.len() >= 4, "the events span months, and months are made ahead: {all_months:?}");
    assert_eq!(months_read(&p), BTreeSet::from([month_of(from), month_of(to)]), "only the range's months:\n{p}");

    // In receivedAt order the months are read newest first, one after the
    // other (an ordered Append), not merged.
    let newest = EventOrder { field: OrderField::ReceivedAt, direction: SortDirection::Desc };
    let p =
        plan(&app, &events::page_query(app.tenant, &Filter::all(), newest, &first, Detail::ALL, DbBackend::Postgres))
            .await;
    assert_indexed(&p, "a receivedAt page");
    assert!(!p.contains("Merge Append") && !p.contains("Sort"), "months read in order:\n{p}");

    // Look-ups by ID probe each month's primary key; by related resource,
    // each month's link index.
    let ids = Filter::Cond(Condition::Ids(vec![EventId(Uuid::now_v7()), EventId(Uuid::now_v7())]));
    let p = plan(&app, &events::page_query(app.tenant, &ids, order, &first, Detail::ALL, DbBackend::Postgres)).await;
    assert_indexed(&p, "events by ID");
    assert!(p.contains("_pkey"), "by the primary key:\n{p}");
    let related = Filter::Cond(Condition::RelatedTo(ResourceMatch {
        ids: Some(vec![ResourceId(Uuid::now_v7())]),
        types: None,
        external_ids: None,
    }));
    let p =
        plan(&app, &events::page_query(app.tenant, &related, order, &first, Detail::ALL, DbBackend::Postgres)).await;
    assert_indexed(&p, "events related to a resource");
    assert!(p.contains("on event_resource_p"), "through the links' months:\n{p}");

    // Following the log: the next page after a deep sequence, in both directions.
    for direction in [SortDirection::Asc, SortDirection::Desc] {
        let by_sequence = EventOrder { field: OrderField::Sequence, direction };
        let mut tail = first.clone();
        tail.after = Some((50_000, Uuid::nil()));
        assert_indexed(
            &plan(
                &app,
                &events::page_query(app.tenant, &Filter::all(), by_sequence, &tail, Detail::ALL, DbBackend::Postgres),
            )
            .await,
            "a sequence page",
        );
    }
}

/// The plan PostgreSQL runs `statement` with on its seventh execution as a
/// prepared statement, which is how the server's connections run every
/// statement: after five custom plans PostgreSQL keeps the generic one when
/// it thinks that no dearer, and the generic plan cannot see the values.
async fn plan_when_prepared(app: &TestApp, statement: Statement) -> String {
    let values = statement.values.map(|v| v.0).unwrap_or_default();
    // The arguments as literals, written by the same code that writes them
    // into a statement's text.
    let placeholders: Vec<String> = (1..=values.len()).map(|n| format!("${n}")).collect();
    let arguments = |verb: &str| {
        let call = format!("{verb} page_statement({})", placeholders.join(", "));
        match values.is_empty() {
            true => format!("{verb} page_statement"),
            false => Statement::from_sql_and_values(DbBackend::Postgres, call, values.clone()).to_string(),
        }
    };
    // One connection: a prepared statement lives in its session.
    let txn = app.store.db().begin().await.expect("begin");
    txn.execute_unprepared(&format!("PREPARE page_statement AS {}", statement.sql)).await.expect("prepare");
    for _ in 0..6 {
        txn.execute_unprepared(&arguments("EXECUTE")).await.expect("execute");
    }
    let rows = txn
        .query_all_raw(Statement::from_string(DbBackend::Postgres, arguments("EXPLAIN EXECUTE")))
        .await
        .expect("explain");
    txn.execute_unprepared("DEALLOCATE page_statement").await.expect("deallocate");
    txn.rollback().await.expect("rollback");
    rows.iter().map(|r| r.try_get_by_index::<String>(0).unwrap()).collect::<Vec<_>>().join("\n")
}

/// A page that walks an index in its order and stops at its end: no sort of
/// every event that matches.
fn assert_walked(plan: &str, what: &str) {
    assert_indexed(plan, what);
    // A plan node's line is its name, two spaces, then its costs.
    let node =
        |line: &str| line.trim_start().trim_start_matches("->").trim_start().split("  (").next().map(str::to_owned);
    let sorts = plan.lines().filter_map(node).filter(|name| name.ends_with("Sort")).count();
    assert_eq!(sorts, 0, "{what} sorts every match instead of walking an index:\n{plan}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_keep_index_walks_once_prepared_on_postgres() {
    if postgres_url().is_none() {
        eprintln!("PostgreSQL URL not set: skipped");
        return;
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    // All in one partition: there the generic plan of a bound time range
    // reads and sorts every event of the range.
    fill(&app, 100_000, Received::Now).await;
    let now = Utc::now();
    let newest = EventOrder { field: OrderField::OccurredAt, direction: SortDirection::Desc };
    let first = PageArgs { first: Some(50), ..Default::default() }
        .into_page(|_, _| Ok((now.timestamp_micros(), Uuid::nil())))
        .unwrap();
    let since = |days: i64| {
        Filter::Cond(Condition::Position(
            OrderField::OccurredAt,
            Range { gte: Some((now - Duration::days(days)).timestamp_micros()), ..Default::default() },
        ))
    };
    // As the benchmark's and the console's pages select them: with the actor and the resource.
    let joins = Joins { actor: true, resource: true };
    let prefix = |p: &str| Filter::Cond(Condition::Str(StrField::Action, StrTest::Prefix(p.into())));
    let week_closed = Filter::Cond(Condition::Position(
        OrderField::OccurredAt,
        Range { gte: Some(now - Duration::days(7)), lt: Some(now), ..Default::default() }
            .map(|at| at.timestamp_micros()),
    ));
    let actor = app
        .store
        .db()
        .query_one_raw(Statement::from_string(DbBackend::Postgres, "SELECT md5('a7')::uuid"))
        .await
        .unwrap()
        .expect("a row");
    let actor = ActorId(actor.try_get_by_index(0).unwrap());
    let shapes = [
        ("the newest page", Filter::all()),
        ("(c) action prefix + a closed 7-day range", Filter::And(vec![prefix("workspace.snapshot."), week_closed])),
        ("the last 24 hours", since(1)),
        ("the last 7 days + an action prefix", Filter::And(vec![since(7), prefix("workspace.")])),
        (
            "failures in the last 7 days",
            Filter::And(vec![since(7), Filter::Cond(Condition::Outcome(Outcome::Failure))]),
        ),
    ];
    for (what, filter) in shapes {
        let statement =
            events::page_statement(app.tenant, &filter, newest, &first, Detail::NONE, joins, DbBackend::Postgres);
        assert_walked(&plan_when_prepared(&app, statement).await, what);
    }
    // An actor's events are few: its own index finds them, whatever the order.
    let actor_events = Filter::Cond(Condition::Actor(ActorMatch { ids: Some(vec![actor]), ..Default::default() }));
    let statement =
        events::page_statement(app.tenant, &actor_events, newest, &first, Detail::NONE, joins, DbBackend::Postgres);
    assert_indexed(&plan_when_prepared(&app, statement).await, "an actor's events");
}

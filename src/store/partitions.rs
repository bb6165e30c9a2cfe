//! Time partitions of the event tables on PostgreSQL (SQLite keeps plain
//! tables): one partition a calendar month (UTC) of `received_at`, named
//! `audit_event_pYYYY_MM`, with its twin `event_resource_pYYYY_MM` holding the
//! links of the same events. The months are made by the database function
//! `auditgraph_ensure_partition` (see the migration that partitions the
//! tables); this module makes them ahead of time, lists them, and takes a whole
//! month away for the purge.

use std::collections::BTreeMap;

use chrono::{DateTime, Months, NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::sqlx::postgres::PgPoolOptions;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, SqlxPostgresConnector, Statement, TransactionTrait};

use crate::domain::ids::TenantId;
use crate::error::{Error, Result};

use super::Store;

/// Months made ahead of the current one, so that recording never has to make
/// its own month in normal operation (it still would, for a clock that jumps).
pub const MONTHS_AHEAD: u32 = 3;

/// The session lock a purge holds on PostgreSQL ("audpurge" in ASCII): one
/// purge at a time among the servers sharing a database.
const PURGE_LOCK: i64 = 0x6175_6470_7572_6765;

/// The two partitioned tables, events first.
const PARENTS: [&str; 2] = ["audit_event", "event_resource"];

/// A month of the event tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Month {
    /// `YYYY_MM`, the tables' suffix.
    pub suffix: String,
    /// The first instant it holds.
    pub from: DateTime<Utc>,
    /// The first instant after it.
    pub to: DateTime<Utc>,
}

impl Month {
    /// The month holding `at` (`None` past the years a suffix writes).
    pub fn of(at: DateTime<Utc>) -> Option<Month> {
        Month::parse(&at.format("%Y_%m").to_string())
    }

    fn parse(suffix: &str) -> Option<Month> {
        let (year, month) = suffix.split_once('_')?;
        let (year, month) = (year.parse().ok()?, month.parse().ok()?);
        let from = NaiveDate::from_ymd_opt(year, month, 1)?.and_hms_opt(0, 0, 0)?.and_utc();
        let to = from.checked_add_months(Months::new(1))?;
        Some(Month { suffix: suffix.to_string(), from, to })
    }

    /// Its partition of `audit_event`.
    pub fn events_table(&self) -> String {
        format!("audit_event_p{}", self.suffix)
    }

    fn table(&self, parent: &str) -> String {
        format!("{parent}_p{}", self.suffix)
    }
}

/// Makes the month holding `at` in both tables unless it exists: recording
/// calls this for its own `received_at`, so that a clock outside the months
/// made ahead still records. A no-op on SQLite.
#[tracing::instrument(name = "db.partitions.ensure", skip_all, err(Debug))]
pub async fn ensure(db: &impl ConnectionTrait, at: DateTime<Utc>) -> Result<()> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT auditgraph_ensure_partition($1)",
        [at.into()],
    ))
    .await?;
    Ok(())
}

/// Makes the month of `now` and the [`MONTHS_AHEAD`] after it.
#[tracing::instrument(name = "db.partitions.ensure_ahead", skip_all, err(Debug))]
pub async fn ensure_ahead(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<()> {
    for ahead in 0..=MONTHS_AHEAD {
        let at = now.checked_add_months(Months::new(ahead)).ok_or_else(|| Error::internal("a month out of range"))?;
        ensure(db, at).await?;
    }
    Ok(())
}

/// The months of `audit_event` now attached, oldest first (none on SQLite).
#[tracing::instrument(name = "db.partitions.months", skip_all, err(Debug))]
pub async fn months(db: &impl ConnectionTrait) -> Result<Vec<Month>> {
    Ok(tables(db)
        .await?
        .into_iter()
        .filter(|t| t.parent == PARENTS[0] && t.state == State::Attached)
        .map(|t| t.month)
        .collect())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Attached,
    /// A `DETACH … CONCURRENTLY` that stopped half-way.
    DetachPending,
    /// Detached by a purge that stopped before dropping it.
    Detached,
}

struct Table {
    parent: &'static str,
    month: Month,
    state: State,
}

/// Every month table of both parents, whatever its state.
async fn tables(db: &impl ConnectionTrait) -> Result<Vec<Table>> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(Vec::new());
    }
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            r"SELECT c.relname::text, i.inhrelid IS NOT NULL, COALESCE(i.inhdetachpending, false)
                FROM pg_class c LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
               WHERE c.relkind = 'r' AND c.relnamespace = to_regnamespace(current_schema())
                 AND c.relname ~ '^(audit_event|event_resource)_p[0-9]{4,}_[0-9]{2}$'",
        ))
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let name: String = row.try_get_by_index(0)?;
        let (attached, pending): (bool, bool) = (row.try_get_by_index(1)?, row.try_get_by_index(2)?);
        let Some(parent) = PARENTS.into_iter().find(|p| name.starts_with(&format!("{p}_p"))) else { continue };
        let Some(month) = Month::parse(&name[parent.len() + 2..]) else { continue };
        let state = match (attached, pending) {
            (_, true) => State::DetachPending,
            (true, false) => State::Attached,
            (false, false) => State::Detached,
        };
        out.push(Table { parent, month, state });
    }
    out.sort_by_key(|t| t.month.from);
    Ok(out)
}

/// The tenants with events in the month's table, each with its highest
/// sequence there: one index descent a tenant (a loose scan of
/// `(tenant_id, sequence)`), not a read of the month.
#[tracing::instrument(name = "db.partitions.tenants_in", skip_all, err(Debug))]
pub async fn tenants_in(db: &impl ConnectionTrait, month: &Month) -> Result<BTreeMap<TenantId, i64>> {
    let table = month.events_table();
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                r#"WITH RECURSIVE t AS (
                       (SELECT tenant_id FROM "{table}" ORDER BY tenant_id LIMIT 1)
                       UNION ALL
                       SELECT (SELECT tenant_id FROM "{table}" WHERE tenant_id > t.tenant_id ORDER BY tenant_id LIMIT 1)
                         FROM t WHERE t.tenant_id IS NOT NULL)
                   SELECT t.tenant_id, (SELECT max(sequence) FROM "{table}" e WHERE e.tenant_id = t.tenant_id)
                     FROM t WHERE t.tenant_id IS NOT NULL"#
            ),
        ))
        .await?;
    rows.iter().map(|r| Ok((TenantId(r.try_get_by_index(0)?), r.try_get_by_index(1)?))).collect()
}

/// Whether the month's table holds any event the server recorded about
/// itself (those are never purged, so such a month is never dropped whole).
#[tracing::instrument(name = "db.partitions.holds_self_audit", skip_all, err(Debug))]
pub async fn holds_self_audit(db: &impl ConnectionTrait, month: &Month) -> Result<bool> {
    let table = month.events_table();
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(r#"SELECT EXISTS (SELECT 1 FROM "{table}" WHERE source_service = $1)"#),
            [crate::domain::event::SELF_AUDIT_SOURCE.into()],
        ))
        .await?;
    Ok(row.map(|r| r.try_get_by_index::<bool>(0)).transpose()?.unwrap_or(false))
}

/// How many events each tenant has in the month's table.
#[tracing::instrument(name = "db.partitions.counts_in", skip_all, err(Debug))]
pub async fn counts_in(db: &impl ConnectionTrait, month: &Month) -> Result<BTreeMap<TenantId, i64>> {
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(r#"SELECT tenant_id, count(*) FROM "{}" GROUP BY tenant_id"#, month.events_table()),
        ))
        .await?;
    rows.iter().map(|r| Ok((TenantId(r.try_get_by_index(0)?), r.try_get_by_index(1)?))).collect()
}

/// A connection of the purge's own, holding the purge lock: its statements
/// have no time bound (a concurrent detach waits for every transaction that
/// was reading the table, an export say), and it is the only one to detach
/// and drop months.
pub struct PurgeSession {
    db: DatabaseConnection,
}

impl PurgeSession {
    /// Opens the session, or `None` when another purge holds the lock.
    #[tracing::instrument(name = "db.partitions.open", skip_all, err(Debug))]
    pub async fn open(store: &Store) -> Result<Option<PurgeSession>> {
        let options = (*store.db().get_postgres_connection_pool().connect_options()).clone();
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(Error::internal)?;
        let db = SqlxPostgresConnector::from_sqlx_postgres_pool(pool);
        db.execute_unprepared("SET statement_timeout = 0").await?;
        let row = db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("SELECT pg_try_advisory_lock({PURGE_LOCK})"),
            ))
            .await?;
        let locked = row.map(|r| r.try_get_by_index::<bool>(0)).transpose()?.unwrap_or(false);
        if !locked {
            db.close().await?;
            return Ok(None);
        }
        Ok(Some(PurgeSession { db }))
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Ends the session, and with it the lock.
    #[tracing::instrument(name = "db.partitions.close", skip_all, err(Debug))]
    pub async fn close(self) -> Result<()> {
        Ok(self.db.close().await?)
    }

    /// Finishes what a purge that stopped half-way left: a detach it began
    /// is completed, and a month it detached but did not drop is attached
    /// again (its events are all there; this purge decides about it anew).
    #[tracing::instrument(name = "db.partitions.repair", skip_all, err(Debug))]
    pub async fn repair(&self) -> Result<()> {
        for t in tables(&self.db).await? {
            if t.state == State::DetachPending {
                self.db
                    .execute_unprepared(&format!(
                        r#"ALTER TABLE "{}" DETACH PARTITION "{}" FINALIZE"#,
                        t.parent,
                        t.month.table(t.parent)
                    ))
                    .await?;
            }
            if t.state != State::Attached {
                tracing::warn!(table = %t.month.table(t.parent), "attaching back a month a stopped purge left detached");
                ensure(&self.db, t.month.from).await?;
            }
        }
        Ok(())
    }

    /// Takes the month away from both tables without blocking writers or
    /// readers of other months (`DETACH PARTITION … CONCURRENTLY`), then drops
    /// it, provided its events are still exactly `expected` (tenant → highest
    /// sequence, as [`tenants_in`] found them): a transaction that was still
    /// writing into the month when it was chosen has finished once the detach
    /// returns, and finding its rows attaches the month back instead.
    /// Returns the events dropped per tenant, or `None` when put back.
    #[tracing::instrument(name = "db.partitions.drop_month", skip_all, err(Debug))]
    pub async fn drop_month(
        &self,
        month: &Month,
        expected: &BTreeMap<TenantId, i64>,
    ) -> Result<Option<BTreeMap<TenantId, i64>>> {
        let [events, links] = PARENTS;
        self.detach(events, month).await?;
        if tenants_in(&self.db, month).await? != *expected {
            tracing::warn!(month = %month.suffix, "events arrived in a month being dropped; it stays");
            ensure(&self.db, month.from).await?;
            return Ok(None);
        }
        let counts = counts_in(&self.db, month).await?;
        self.detach(links, month).await?;
        // The counts per day lose the month's events as the month goes: both or neither.
        let txn = self.db.begin().await?;
        super::day_counts::subtract(&txn, &month.table(events), Expr::cust("TRUE")).await?;
        txn.execute_unprepared(&format!(r#"DROP TABLE "{}", "{}""#, month.table(events), month.table(links))).await?;
        txn.commit().await?;
        Ok(Some(counts))
    }

    async fn detach(&self, parent: &str, month: &Month) -> Result<()> {
        self.db
            .execute_unprepared(&format!(
                r#"ALTER TABLE "{parent}" DETACH PARTITION "{}" CONCURRENTLY"#,
                month.table(parent)
            ))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Month;

    #[test]
    fn months_parse_from_table_suffixes() {
        let m = Month::parse("2026_12").unwrap();
        assert_eq!(m.from.to_rfc3339(), "2026-12-01T00:00:00+00:00");
        assert_eq!(m.to.to_rfc3339(), "2027-01-01T00:00:00+00:00");
        assert_eq!(m.events_table(), "audit_event_p2026_12");
        assert!(Month::parse("2026_13").is_none());
        assert!(Month::parse("2026").is_none());
    }
}

//! Retention: the purge that removes each tenant's events older than its
//! retention (unless it is on legal hold), and records what it removed as
//! `retention.purge`. What goes is a prefix of each tenant's log, but for the
//! server's own records (self-audit events), which are never purged: on
//! PostgreSQL the months holding nothing else are dropped whole, the rest is
//! deleted in bounded chunks. The ledger keeps every hash, so the tree, its
//! checkpoints and the proofs of the remaining events still verify.
//!
//! A change that shortens retention or lifts a legal hold takes effect only
//! after the grace period: until then the purge applies the most protective
//! setting in force at any moment of it, so that a key cannot erase the log
//! in one stroke (and the record of who changed the setting stays).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use sea_orm::DbBackend;
use serde_json::json;

use super::policy::Operation;
use super::self_audit::{self, Acting};
use super::session::Session;
use super::unit_of_work::UnitOfWork;
use crate::bus::Bus;
use crate::domain::event::NewResource;
use crate::domain::ids::TenantId;
use crate::domain::tenant::Tenant;
use crate::error::{Error, Result};
use crate::store::partitions::{self, Month, PurgeSession};
use crate::store::{Store, retention, tenants};

/// Events deleted per transaction: a purge holds no lock ingest needs, and
/// each chunk is short.
const CHUNK: i64 = 5_000;
/// How long after its end a month may be dropped whole: servers whose clocks
/// run behind by less never record into a month being dropped.
const MONTH_CLOSED_AFTER: Duration = Duration::days(1);
/// The longest retention accepted: 100 years.
pub const MAX_DAYS: i32 = 36_500;

/// What one purge did (or, dry, would do) in one tenant.
#[derive(Clone, Debug)]
pub struct Purged {
    pub tenant: TenantId,
    pub slug: String,
    /// Events removed.
    pub count: i64,
    /// Every event up to this sequence is gone.
    pub through_sequence: i64,
    /// The cutoff: events received before it were due.
    pub before: DateTime<Utc>,
}

/// Checks a retention in days (`None`: forever).
pub fn check_days(days: Option<i32>, path: &str) -> Result<Option<i32>> {
    match days {
        Some(d) if !(0..=MAX_DAYS).contains(&d) => {
            Err(Error::bad_input(path, format!("retention days must be 0 to {MAX_DAYS} (null keeps events forever)")))
        }
        other => Ok(other),
    }
}

/// Sets what is given of a tenant's retention (`Some(None)`: keep forever)
/// and legal hold, audited as `tenant.retention.update` in the tenant with the
/// settings before and after; returns the tenant as stored.
pub async fn set(
    store: &Store,
    bus: &Bus,
    slug: &str,
    days: Option<Option<i32>>,
    legal_hold: Option<bool>,
    acting: Acting<'_>,
) -> Result<Tenant> {
    let days = days.map(|d| check_days(d, "input.retentionDays")).transpose()?;
    let mut unit = UnitOfWork::begin(store, bus).await?;
    let before = tenants::by_slug(unit.txn(), slug)
        .await?
        .ok_or_else(|| Error::bad_input("input.tenant", format!("no tenant `{slug}`")))?;
    retention::set(unit.txn(), before.id, days, legal_hold).await?;
    let after = tenants::by_id(unit.txn(), before.id).await?.ok_or_else(|| Error::internal("the tenant vanished"))?;
    if (before.retention_days, before.legal_hold) != (after.retention_days, after.legal_hold) {
        retention::record_change(unit.txn(), before.id, (before.retention_days, before.legal_hold), unit.now).await?;
    }
    let settings = |t: &Tenant| json!({ "retentionDays": t.retention_days, "legalHold": t.legal_hold });
    let event = self_audit::self_audit(
        unit.now,
        "tenant.retention.update",
        &acting,
        NewResource { kind: "tenant".into(), external_id: after.id.to_string(), name: Some(after.name.clone()) },
        format!("Retention of tenant `{}` changed", after.slug),
        json!({ "before": settings(&before), "after": settings(&after) }),
    );
    unit.record(after.id, vec![event]).await?;
    unit.commit().await?;
    Ok(after)
}

/// Changes a tenant's retention and legal hold for a caller with `admin`.
pub async fn change(
    session: &Session,
    slug: &str,
    days: Option<Option<i32>>,
    legal_hold: Option<bool>,
) -> Result<Tenant> {
    let requester = session.authorize(Operation::Administer)?;
    let s = session.services();
    let tenant = set(&s.store, &s.bus, slug, days, legal_hold, Acting::Key(requester)).await?;
    session.pin_primary();
    Ok(tenant)
}

/// What one purge run did (or, dry, would do).
#[derive(Clone, Debug, Default)]
pub struct PurgeReport {
    /// Each tenant whose events went, with everything that went.
    pub tenants: Vec<Purged>,
    /// Whole months taken away on PostgreSQL, oldest first.
    pub months: Vec<DroppedMonth>,
    /// Another server's purge was running: this run did nothing.
    pub busy: bool,
}

impl PurgeReport {
    pub fn is_empty(&self) -> bool {
        self.tenants.is_empty() && self.months.is_empty()
    }
}

/// A month of the event tables dropped whole (PostgreSQL).
#[derive(Clone, Debug)]
pub struct DroppedMonth {
    pub month: Month,
    /// The events it held, of every tenant.
    pub events: i64,
}

/// A tenant due for purging in this run.
struct Due {
    tenant: entity::tenant::Model,
    days: i32,
    before: DateTime<Utc>,
    /// Every event up to this sequence goes.
    through: i64,
}

/// How a purge runs.
#[derive(Clone, Copy, Debug)]
pub struct PurgeOptions {
    /// Report what would go and change nothing.
    pub dry_run: bool,
    /// The grace period of changed settings (`--retention-grace`); `None`
    /// applies the current settings at once (`purge --ignore-grace`).
    pub grace: Option<Duration>,
}

/// The most protective of two settings (days, hold): a hold wins, and the
/// longer retention (forever longest).
fn most_protective(a: (Option<i32>, bool), b: (Option<i32>, bool)) -> (Option<i32>, bool) {
    let days = match (a.0, b.0) {
        (Some(x), Some(y)) => Some(x.max(y)),
        _ => None,
    };
    (days, a.1 || b.1)
}

/// The tenants with events past their retention and not on legal hold, by
/// the most protective setting in force during the grace period.
async fn due(store: &Store, now: DateTime<Utc>, grace: Option<Duration>) -> Result<Vec<Due>> {
    let db = store.db();
    let mut replaced: HashMap<TenantId, Vec<(Option<i32>, bool)>> = HashMap::new();
    if let Some(grace) = grace {
        for (tenant, days, hold) in retention::replaced_since(db, now - grace).await? {
            replaced.entry(tenant).or_default().push((days, hold));
        }
    }
    let mut due = Vec::new();
    for t in retention::tenants_with_retention(db).await? {
        let current = (t.retention_days, t.legal_hold);
        let setting = replaced.get(&TenantId(t.id)).into_iter().flatten().fold(current, |a, b| most_protective(a, *b));
        let (Some(days), false) = setting else { continue };
        let before = now - Duration::days(i64::from(days));
        let through = retention::purgeable_through(db, TenantId(t.id), t.purged_through, before).await?;
        if through > t.purged_through {
            due.push(Due { tenant: t, days, before, through });
        }
    }
    Ok(due)
}

/// The months that can go whole: ended at least [`MONTH_CLOSED_AFTER`] ago
/// (no server whose clock is that close records into them any more), and
/// holding only events that this run purges anyway, that is events of due
/// tenants up to their `through` sequence. A tenant on legal hold, kept
/// forever, or with an event still within its retention keeps the month.
/// Each comes with what it holds (tenant → highest sequence).
async fn whole_months(store: &Store, due: &[Due], now: DateTime<Utc>) -> Result<Vec<(Month, BTreeMap<TenantId, i64>)>> {
    let through: HashMap<TenantId, i64> = due.iter().map(|d| (TenantId(d.tenant.id), d.through)).collect();
    let mut whole = Vec::new();
    for month in partitions::months(store.db()).await? {
        if month.to + MONTH_CLOSED_AFTER > now {
            break;
        }
        let held = partitions::tenants_in(store.db(), &month).await?;
        if held.iter().all(|(t, max)| through.get(t).is_some_and(|through| max <= through))
            && !partitions::holds_self_audit(store.db(), &month).await?
        {
            whole.push((month, held));
        }
    }
    Ok(whole)
}

/// Purges every tenant whose retention allows it, as of `now`. On PostgreSQL
/// the months that hold only purged events are detached and dropped whole
/// (never blocking writers), the rest is deleted in chunks; one purge runs at
/// a time among servers, and the months ahead are made first. A dry run
/// reports what would go and changes nothing.
pub async fn purge(store: &Store, bus: &Bus, now: DateTime<Utc>, options: PurgeOptions) -> Result<PurgeReport> {
    let dry_run = options.dry_run;
    let db = store.db();
    let postgres = store.backend() == DbBackend::Postgres;
    let session = if postgres && !dry_run {
        partitions::ensure_ahead(db, now).await?;
        let Some(session) = PurgeSession::open(store).await? else {
            return Ok(PurgeReport { busy: true, ..Default::default() });
        };
        session.repair().await?;
        Some(session)
    } else {
        None
    };
    let due = due(store, now, options.grace).await?;
    let mut report = PurgeReport::default();
    let mut dropped: HashMap<TenantId, i64> = HashMap::new();
    if postgres {
        for (month, held) in whole_months(store, &due, now).await? {
            let counts = match &session {
                Some(session) => session.drop_month(&month, &held).await?,
                None => Some(partitions::counts_in(db, &month).await?),
            };
            let Some(counts) = counts else { continue };
            for (tenant, n) in &counts {
                *dropped.entry(*tenant).or_default() += n;
            }
            report.months.push(DroppedMonth { month, events: counts.values().sum() });
        }
    }
    for d in due {
        let tenant = TenantId(d.tenant.id);
        let count = if dry_run {
            retention::count_range(db, tenant, d.tenant.purged_through, d.through).await?
        } else {
            dropped.get(&tenant).copied().unwrap_or(0)
                + delete_through(store, tenant, d.tenant.purged_through, d.through).await?
        };
        let purged =
            Purged { tenant, slug: d.tenant.slug.clone(), count, through_sequence: d.through, before: d.before };
        if !dry_run && count > 0 {
            let event = self_audit::self_audit(
                now,
                "retention.purge",
                &Acting::System,
                NewResource {
                    kind: "tenant".into(),
                    external_id: tenant.to_string(),
                    name: Some(d.tenant.name.clone()),
                },
                format!("{count} events received before {} purged (retention {} days)", d.before.to_rfc3339(), d.days),
                json!({
                    "count": count,
                    "throughSequence": d.through.to_string(),
                    "before": crate::ledger::instant(d.before),
                    "retentionDays": d.days,
                }),
            );
            self_audit::record_self_audit(store, bus, tenant, event).await?;
        }
        report.tenants.push(purged);
    }
    if let Some(session) = session {
        session.close().await?;
    }
    Ok(report)
}

/// Deletes the tenant's events in `(after, through]` still stored, in chunks,
/// each its own short transaction that also records how far the log is
/// purged (so it is recorded even when dropped months took every event).
/// Returns the events deleted.
async fn delete_through(store: &Store, tenant: TenantId, after: i64, through: i64) -> Result<i64> {
    let db = store.db();
    // Months dropped whole leave nothing to delete below the first event still stored.
    let mut after = match retention::first_after(db, tenant, after).await? {
        Some(first) => (first - 1).clamp(after, through),
        None => through,
    };
    let mut count = 0;
    loop {
        let upto = (after + CHUNK).min(through);
        let (_gate, txn) = store.begin_write().await?;
        count += retention::delete_range(&txn, tenant, after, upto).await? as i64;
        txn.commit().await?;
        after = upto;
        if after >= through {
            return Ok(count);
        }
    }
}

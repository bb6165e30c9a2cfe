//! Retention: the purge that removes each tenant's events older than its
//! retention (unless it is on legal hold), in bounded chunks, and records
//! what it removed as `retention.purge`. The ledger keeps every hash, so the
//! tree, its checkpoints and the proofs of the remaining events still verify.

use chrono::{DateTime, Duration, Utc};
use sea_orm::TransactionTrait;
use serde_json::json;

use super::self_audit::{self, Acting};
use crate::bus::Bus;
use crate::domain::event::ResourceSpec;
use crate::domain::ids::TenantId;
use crate::error::{Error, Result};
use crate::store::{Store, retention, tenants};

/// Events deleted per transaction: a purge holds no lock ingest needs, and
/// each chunk is short.
const CHUNK: i64 = 5_000;
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
/// and legal hold; returns the tenant as stored.
pub async fn set(
    store: &Store,
    slug: &str,
    days: Option<Option<i32>>,
    legal_hold: Option<bool>,
) -> Result<entity::tenant::Model> {
    let days = days.map(|d| check_days(d, "input.retentionDays")).transpose()?;
    let tenant = tenants::by_slug(store.db(), slug)
        .await?
        .ok_or_else(|| Error::bad_input("input.tenant", format!("no tenant `{slug}`")))?;
    retention::set(store.db(), TenantId(tenant.id), days, legal_hold).await?;
    tenants::by_id(store.db(), TenantId(tenant.id)).await?.ok_or_else(|| Error::internal("the tenant vanished"))
}

/// Purges every tenant whose retention allows it, as of `now`. A dry run
/// reports what would go and removes nothing.
pub async fn purge(store: &Store, bus: &Bus, now: DateTime<Utc>, dry_run: bool) -> Result<Vec<Purged>> {
    let db = store.db();
    let mut done = Vec::new();
    for t in retention::tenants_with_retention(db).await? {
        let (Some(days), false) = (t.retention_days, t.legal_hold) else { continue };
        let tenant = TenantId(t.id);
        let before = now - Duration::days(i64::from(days));
        let through = retention::purgeable_through(db, tenant, t.purged_through, before).await?;
        if through <= t.purged_through {
            continue;
        }
        let count = if dry_run {
            retention::count_range(db, tenant, t.purged_through, through).await?
        } else {
            let mut count = 0;
            let mut after = t.purged_through;
            while after < through {
                let upto = (after + CHUNK).min(through);
                let _gate = store.write_gate().await;
                let txn = db.begin().await?;
                count += retention::delete_range(&txn, tenant, after, upto).await? as i64;
                txn.commit().await?;
                after = upto;
            }
            count
        };
        let purged = Purged { tenant, slug: t.slug.clone(), count, through_sequence: through, before };
        if !dry_run && count > 0 {
            let event = self_audit::self_audit(
                "retention.purge",
                &Acting::System,
                ResourceSpec { kind: "tenant".into(), external_id: tenant.to_string(), name: Some(t.name.clone()) },
                format!("{count} events received before {} purged (retention {days} days)", before.to_rfc3339()),
                json!({
                    "count": count,
                    "throughSequence": through.to_string(),
                    "before": crate::ledger::instant(before),
                    "retentionDays": days,
                }),
            );
            self_audit::record_self_audit(store, bus, tenant, event).await?;
        }
        done.push(purged);
    }
    Ok(done)
}

//! Alert rules: their definitions, evaluation positions and leases, and the
//! last firing per rule and key. Every read and write of a tenant's rules
//! names the tenant; the evaluator, which serves every tenant, works by rule
//! ID under a lease.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{alert_firing as af, alert_rule as ar};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::lease;
use crate::domain::alert_rule::{AlertRule, Key};
use crate::domain::ids::{AlertRuleId, TenantId};
use crate::domain::stats::StatsDimension;
use crate::error::Result;

/// A rule as stored.
fn record(row: ar::Model) -> AlertRule {
    let group_by = row
        .group_by
        .as_array()
        .map(|names| names.iter().filter_map(|n| n.as_str().and_then(StatsDimension::parse)).collect())
        .unwrap_or_default();
    AlertRule {
        id: AlertRuleId(row.id),
        tenant: TenantId(row.tenant_id),
        name: row.name,
        filter: row.filter,
        query: row.query,
        threshold: row.threshold,
        window_seconds: row.window_seconds,
        group_by,
        cooldown_seconds: row.cooldown_seconds,
        paused: row.paused,
        evaluated_sequence: row.evaluated_sequence,
        last_fired_at: row.last_fired_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

fn dimensions(group_by: &[StatsDimension]) -> serde_json::Value {
    group_by.iter().map(|d| d.as_str()).collect::<Vec<_>>().into()
}

#[tracing::instrument(name = "db.alert_rules.insert", skip_all, fields(tenant = %rule.tenant), err(Debug))]
pub async fn insert(db: &impl ConnectionTrait, rule: &AlertRule) -> Result<()> {
    let active = ar::ActiveModel {
        id: Set(rule.id.0),
        tenant_id: Set(rule.tenant.0),
        name: Set(rule.name.clone()),
        filter: Set(rule.filter.clone()),
        query: Set(rule.query.clone()),
        threshold: Set(rule.threshold),
        window_seconds: Set(rule.window_seconds),
        group_by: Set(dimensions(&rule.group_by)),
        cooldown_seconds: Set(rule.cooldown_seconds),
        paused: Set(rule.paused),
        evaluated_sequence: Set(rule.evaluated_sequence),
        last_fired_at: Set(None),
        lease_holder: Set(None),
        lease_until: Set(None),
        created_at: Set(rule.created_at),
        updated_at: Set(rule.updated_at),
    };
    ar::Entity::insert(active).exec_without_returning(db).await?;
    Ok(())
}

/// The tenant's rules, oldest first.
#[tracing::instrument(name = "db.alert_rules.list", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn list(db: &impl ConnectionTrait, tenant: TenantId) -> Result<Vec<AlertRule>> {
    Ok(ar::Entity::find()
        .filter(ar::Column::TenantId.eq(tenant.0))
        .order_by_asc(ar::Column::CreatedAt)
        .order_by_asc(ar::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(record)
        .collect())
}

/// How many rules the tenant has.
pub async fn count(db: &impl ConnectionTrait, tenant: TenantId) -> Result<u64> {
    Ok(ar::Entity::find().filter(ar::Column::TenantId.eq(tenant.0)).count(db).await?)
}

#[tracing::instrument(name = "db.alert_rules.by_id", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn by_id(db: &impl ConnectionTrait, tenant: TenantId, id: AlertRuleId) -> Result<Option<AlertRule>> {
    Ok(ar::Entity::find_by_id(id.0).filter(ar::Column::TenantId.eq(tenant.0)).one(db).await?.map(record))
}

/// Saves a rule's definition (name, filter, numbers, pause) as changed.
#[tracing::instrument(name = "db.alert_rules.update", skip_all, fields(tenant = %rule.tenant), err(Debug))]
pub async fn update(db: &impl ConnectionTrait, rule: &AlertRule) -> Result<()> {
    ar::Entity::update_many()
        .col_expr(ar::Column::Name, Expr::val(rule.name.clone()))
        .col_expr(ar::Column::Filter, Expr::val(rule.filter.clone()))
        .col_expr(ar::Column::Query, Expr::val(rule.query.clone()))
        .col_expr(ar::Column::Threshold, Expr::val(rule.threshold))
        .col_expr(ar::Column::WindowSeconds, Expr::val(rule.window_seconds))
        .col_expr(ar::Column::GroupBy, Expr::val(dimensions(&rule.group_by)))
        .col_expr(ar::Column::CooldownSeconds, Expr::val(rule.cooldown_seconds))
        .col_expr(ar::Column::Paused, Expr::val(rule.paused))
        .col_expr(ar::Column::UpdatedAt, Expr::val(rule.updated_at))
        .filter(ar::Column::Id.eq(rule.id.0))
        .filter(ar::Column::TenantId.eq(rule.tenant.0))
        .exec(db)
        .await?;
    Ok(())
}

/// Removes one of the tenant's rules and its firings; whether it existed.
#[tracing::instrument(name = "db.alert_rules.delete", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn delete(db: &impl ConnectionTrait, tenant: TenantId, id: AlertRuleId) -> Result<bool> {
    af::Entity::delete_many()
        .filter(af::Column::RuleId.eq(id.0))
        .filter(af::Column::TenantId.eq(tenant.0))
        .exec(db)
        .await?;
    let done = ar::Entity::delete_many()
        .filter(ar::Column::Id.eq(id.0))
        .filter(ar::Column::TenantId.eq(tenant.0))
        .exec(db)
        .await?;
    Ok(done.rows_affected > 0)
}

/// The tenants that have rules.
#[tracing::instrument(name = "db.alert_rules.tenants", skip_all, err(Debug))]
pub async fn tenants(db: &impl ConnectionTrait) -> Result<Vec<TenantId>> {
    let ids: Vec<uuid::Uuid> =
        ar::Entity::find().select_only().column(ar::Column::TenantId).distinct().into_tuple().all(db).await?;
    Ok(ids.into_iter().map(TenantId).collect())
}

/// The tenant's rules that `holder` could evaluate now: not paused, and
/// whose lease is free, expired or already its own.
#[tracing::instrument(name = "db.alert_rules.evaluable", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn evaluable(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    holder: &str,
    now: DateTime<Utc>,
) -> Result<Vec<AlertRule>> {
    Ok(ar::Entity::find()
        .filter(ar::Column::TenantId.eq(tenant.0))
        .filter(ar::Column::Paused.eq(false))
        .filter(lease::open::<ar::Entity>(holder, now))
        .order_by_asc(ar::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(record)
        .collect())
}

/// Takes or renews a rule's lease for `holder` until `until`, unless another
/// holder's lease is still running; whether `holder` now holds it.
#[tracing::instrument(name = "db.alert_rules.claim", skip_all, err(Debug))]
pub async fn claim(
    db: &impl ConnectionTrait,
    id: AlertRuleId,
    holder: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool> {
    lease::claim::<ar::Entity>(db, ar::Column::Id.eq(id.0), holder, now, until).await
}

/// Gives up every lease `holder` still has.
#[tracing::instrument(name = "db.alert_rules.release_all", skip_all, err(Debug))]
pub async fn release_all(db: &impl ConnectionTrait, holder: &str) -> Result<u64> {
    lease::release_all::<ar::Entity>(db, holder).await
}

/// Saves that every sequence up to `through` was evaluated, only while
/// `holder` holds the lease and only forwards; whether it was saved.
#[tracing::instrument(name = "db.alert_rules.advance", skip_all, err(Debug))]
pub async fn advance(db: &impl ConnectionTrait, id: AlertRuleId, holder: &str, through: u64) -> Result<bool> {
    let done = ar::Entity::update_many()
        .col_expr(ar::Column::EvaluatedSequence, Expr::val(through as i64))
        .filter(ar::Column::Id.eq(id.0))
        .filter(ar::Column::LeaseHolder.eq(holder))
        .filter(ar::Column::EvaluatedSequence.lte(through as i64))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// The key as stored: a JSON array.
pub fn key_text(key: &Key) -> String {
    serde_json::to_string(key).unwrap_or_else(|_| "[]".into())
}

/// Saves a firing of `rule` for `key`: its window's end, for the cooldown.
#[tracing::instrument(name = "db.alert_rules.fired", skip_all, err(Debug))]
pub async fn fired(
    db: &impl ConnectionTrait,
    rule: &AlertRule,
    key: &Key,
    window_end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    let row = af::ActiveModel {
        rule_id: Set(rule.id.0),
        key: Set(key_text(key)),
        tenant_id: Set(rule.tenant.0),
        window_end: Set(window_end),
        fired_at: Set(now),
    };
    af::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([af::Column::RuleId, af::Column::Key])
                .update_columns([af::Column::WindowEnd, af::Column::FiredAt])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    ar::Entity::update_many()
        .col_expr(ar::Column::LastFiredAt, Expr::val(now))
        .filter(ar::Column::Id.eq(rule.id.0))
        .exec(db)
        .await?;
    Ok(())
}

/// The window end of each key's last firing.
#[tracing::instrument(name = "db.alert_rules.firings", skip_all, err(Debug))]
pub async fn firings(db: &impl ConnectionTrait, rule: &AlertRule) -> Result<HashMap<Key, DateTime<Utc>>> {
    let rows = af::Entity::find()
        .filter(af::Column::RuleId.eq(rule.id.0))
        .filter(af::Column::TenantId.eq(rule.tenant.0))
        .all(db)
        .await?;
    Ok(rows.into_iter().filter_map(|r| Some((serde_json::from_str(&r.key).ok()?, r.window_end))).collect())
}

//! Creating, changing and deleting alert rules, each audited in the tenant in
//! the same transaction as the change. Managing rules needs what managing
//! event streams needs (`keys.manage` and `audit.read`, or `admin`): a rule
//! reads the log as a stream does.

use serde_json::json;

use super::policy::Operation;
use super::self_audit::{Acting, self_audit};
use super::session::Session;
use super::unit_of_work::UnitOfWork;
use crate::domain::alert_rule::{self, AlertRule};
use crate::domain::event::{NewEvent, NewResource, check};
use crate::domain::filter_spec::FilterSpec;
use crate::domain::ids::AlertRuleId;
use crate::domain::requester::Requester;
use crate::domain::stats::StatsDimension;
use crate::error::{Error, Result};
use crate::store::{alert_rules, ledger};

/// A rule to create, as the caller sent it (defaults applied by the door).
pub struct NewRule {
    pub name: String,
    pub filter: Option<FilterSpec>,
    pub query: Option<String>,
    pub threshold: i32,
    pub window_seconds: i32,
    pub group_by: Vec<StatsDimension>,
    pub cooldown_seconds: i32,
}

/// A change to a rule; `None` leaves a field as it is.
#[derive(Default)]
pub struct RuleChange {
    pub name: Option<String>,
    pub filter: Option<FilterSpec>,
    pub query: Option<String>,
    pub threshold: Option<i32>,
    pub window_seconds: Option<i32>,
    pub group_by: Option<Vec<StatsDimension>>,
    pub cooldown_seconds: Option<i32>,
    pub paused: Option<bool>,
}

/// The filter as stored, validated together with the query string.
fn stored_filter(
    filter: Option<FilterSpec>,
    query: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<serde_json::Value> {
    let spec = filter.unwrap_or_default();
    let json = spec.to_json();
    super::criteria::combine_at(Some(spec), "input.filter", query, "input.query", now)?;
    Ok(json)
}

/// What a rule's self-audit shows of it, before and after a change.
fn described(rule: &AlertRule) -> serde_json::Value {
    json!({
        "name": rule.name,
        "filter": rule.filter,
        "query": rule.query,
        "threshold": rule.threshold,
        "windowSeconds": rule.window_seconds,
        "groupBy": rule.group_by.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
        "cooldownSeconds": rule.cooldown_seconds,
        "paused": rule.paused,
    })
}

fn audit(
    at: chrono::DateTime<chrono::Utc>,
    action: &str,
    requester: &Requester,
    rule: &AlertRule,
    summary: String,
    metadata: serde_json::Value,
) -> NewEvent {
    self_audit(
        at,
        action,
        &Acting::Key(requester),
        NewResource { kind: "alert_rule".into(), external_id: rule.id.to_string(), name: Some(rule.name.clone()) },
        summary,
        metadata,
    )
}

fn not_found(id: AlertRuleId) -> Error {
    Error::NotFound(format!("no alert rule {id} in this tenant"))
}

/// The caller's tenant's rules, oldest first.
pub async fn list(session: &Session) -> Result<Vec<AlertRule>> {
    let requester = session.authorize(Operation::ManageStreams)?;
    alert_rules::list(session.services().store.db(), requester.tenant).await
}

/// Creates a rule; it looks at the events recorded after its creation.
pub async fn create(session: &Session, input: NewRule) -> Result<AlertRule> {
    let requester = session.authorize(Operation::ManageStreams)?;
    let services = session.services();
    let name = check::text("input.name", input.name, 1, 255)?;
    let filter = stored_filter(input.filter, input.query.as_deref(), services.store.now())?;
    alert_rule::check_numbers(input.threshold, input.window_seconds, input.cooldown_seconds, "input")?;
    alert_rule::check_group_by(&input.group_by, "input.groupBy")?;
    let tenant = requester.tenant;
    let mut unit = UnitOfWork::begin(&services.store, &services.bus).await?;
    let mut rule = AlertRule {
        id: AlertRuleId::generate(),
        tenant,
        name,
        filter,
        query: input.query.filter(|q| !q.trim().is_empty()),
        threshold: input.threshold,
        window_seconds: input.window_seconds,
        group_by: input.group_by,
        cooldown_seconds: input.cooldown_seconds,
        paused: false,
        evaluated_sequence: 0,
        last_fired_at: None,
        created_at: unit.now,
        updated_at: unit.now,
    };
    let event = audit(
        unit.now,
        "alert_rule.create",
        requester,
        &rule,
        format!("Alert rule `{}` created", rule.name),
        json!({ "before": null, "after": described(&rule) }),
    );
    // Recorded first: the rule starts after its own creation.
    unit.record(tenant, vec![event]).await?;
    // The bound on streams applies to rules too: each keeps a follower of the
    // log busy. Counted after recording, which holds the tenant's ledger, so
    // two creations cannot both take the last place (as for streams).
    let max = services.streams.max_per_tenant;
    if alert_rules::count(unit.txn(), tenant).await? >= max as u64 {
        return Err(Error::bad_input("input", format!("a tenant may have at most {max} alert rules")));
    }
    rule.evaluated_sequence = ledger::head(unit.txn(), tenant).await?.size() as i64;
    alert_rules::insert(unit.txn(), &rule).await?;
    unit.commit().await?;
    session.pin_primary();
    services.alerts.changed(tenant);
    Ok(rule)
}

/// Changes a rule; windows restart from the log under the new definition.
pub async fn update(session: &Session, id: AlertRuleId, change: RuleChange) -> Result<AlertRule> {
    let requester = session.authorize(Operation::ManageStreams)?;
    let services = session.services();
    let tenant = requester.tenant;
    let mut unit = UnitOfWork::begin(&services.store, &services.bus).await?;
    let before = alert_rules::by_id(unit.txn(), tenant, id).await?.ok_or_else(|| not_found(id))?;
    let mut rule = before.clone();
    if let Some(name) = change.name {
        rule.name = check::text("input.name", name, 1, 255)?;
    }
    if change.filter.is_some() || change.query.is_some() {
        let query = change.query.or(rule.query.clone());
        let filter = match change.filter {
            Some(spec) => Some(spec),
            None => Some(FilterSpec::from_json(rule.filter.clone(), "input.filter")?),
        };
        rule.filter = stored_filter(filter, query.as_deref(), services.store.now())?;
        rule.query = query.filter(|q| !q.trim().is_empty());
    }
    rule.threshold = change.threshold.unwrap_or(rule.threshold);
    rule.window_seconds = change.window_seconds.unwrap_or(rule.window_seconds);
    rule.cooldown_seconds = change.cooldown_seconds.unwrap_or(rule.cooldown_seconds);
    alert_rule::check_numbers(rule.threshold, rule.window_seconds, rule.cooldown_seconds, "input")?;
    if let Some(group_by) = change.group_by {
        alert_rule::check_group_by(&group_by, "input.groupBy")?;
        rule.group_by = group_by;
    }
    rule.paused = change.paused.unwrap_or(rule.paused);
    rule.updated_at = unit.now;
    alert_rules::update(unit.txn(), &rule).await?;
    let event = audit(
        unit.now,
        "alert_rule.update",
        requester,
        &rule,
        format!("Alert rule `{}` changed", rule.name),
        json!({ "before": described(&before), "after": described(&rule) }),
    );
    unit.record(tenant, vec![event]).await?;
    unit.commit().await?;
    session.pin_primary();
    services.alerts.changed(tenant);
    Ok(rule)
}

/// Deletes a rule and its firings.
pub async fn delete(session: &Session, id: AlertRuleId) -> Result<AlertRule> {
    let requester = session.authorize(Operation::ManageStreams)?;
    let services = session.services();
    let tenant = requester.tenant;
    let mut unit = UnitOfWork::begin(&services.store, &services.bus).await?;
    let rule = alert_rules::by_id(unit.txn(), tenant, id).await?.ok_or_else(|| not_found(id))?;
    alert_rules::delete(unit.txn(), tenant, id).await?;
    let event = audit(
        unit.now,
        "alert_rule.delete",
        requester,
        &rule,
        format!("Alert rule `{}` deleted", rule.name),
        json!({ "before": described(&rule), "after": null }),
    );
    unit.record(tenant, vec![event]).await?;
    unit.commit().await?;
    session.pin_primary();
    Ok(rule)
}

//! Evaluating alert rules along the live log. Each rule follows its tenant's
//! log by sequence ([`Follow`], as export and event streams do) from its
//! saved position; one replica at a time holds a rule's lease. The events of
//! each step go into sliding windows per key ([`Windows`]); a crossing past
//! its key's cooldown records `alert.fired`, and the firing and the new
//! position are saved in that same transaction, only while the lease is held:
//! a step is evaluated once, whichever replica does it and whenever it
//! stopped. A replica that takes a rule up (after a restart, or from another
//! replica) first reads back the window before the saved position.
//!
//! The evaluator wakes when the bus announces events of a tenant with rules,
//! when a rule changes here, and every poll (which also finds rules made on
//! other replicas).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::follow::{self, Follow};
use super::self_audit::{Acting, self_audit};
use super::unit_of_work::UnitOfWork;
use crate::bus::{Broadcast, Bus};
use crate::domain::alert_rule::{self, AlertRule, Crossing, Key, Windows};
use crate::domain::cursor::OrderField;
use crate::domain::event::{ActorType, NewActor, NewEvent, NewResource};
use crate::domain::filter::{Condition, Filter, Range, StrField, StrTest};
use crate::domain::filter_spec::FilterSpec;
use crate::domain::ids::{AlertRuleId, TenantId};
use crate::error::Result;
use crate::store::{Store, alert_rules, events, ledger};

/// Events read in one step.
const BATCH: u64 = 500;

/// What the request side tells the evaluator: which tenants have rules, and
/// that one changed.
#[derive(Default)]
pub struct Watch {
    tenants: Mutex<HashSet<TenantId>>,
    wake: tokio::sync::Notify,
}

impl Watch {
    /// A rule of `tenant` was created or changed here.
    pub fn changed(&self, tenant: TenantId) {
        self.tenants.lock().unwrap().insert(tenant);
        self.wake.notify_one();
    }

    fn has(&self, tenant: TenantId) -> bool {
        self.tenants.lock().unwrap().contains(&tenant)
    }

    fn all(&self) -> Vec<TenantId> {
        self.tenants.lock().unwrap().iter().copied().collect()
    }
}

/// Why the evaluator woke.
enum Woken {
    /// Events of a tenant with rules were announced.
    Tenant(TenantId),
    /// A rule changed here, or announcements may have been missed.
    All,
    /// The poll: other replicas' rules are looked for too.
    Tick,
}

/// A rule's windows, as of the definition they were built for.
struct State {
    updated_at: DateTime<Utc>,
    /// The saved position the windows are up to date with.
    position: i64,
    windows: Windows,
    /// The window end of each key's last firing.
    fired: HashMap<Key, DateTime<Utc>>,
}

pub struct Evaluator {
    store: Store,
    bus: Bus,
    watch: Arc<Watch>,
    holder: String,
    lease: Duration,
    poll: Duration,
    states: HashMap<AlertRuleId, State>,
}

impl Evaluator {
    pub fn new(store: Store, bus: Bus, watch: Arc<Watch>, lease: Duration, poll: Duration) -> Evaluator {
        let holder = format!("{}-{}", std::process::id(), uuid::Uuid::now_v7().simple());
        Evaluator { store, bus, watch, holder, lease, poll, states: HashMap::new() }
    }

    /// Evaluates until `stop` turns true, then gives its leases up.
    pub async fn run(mut self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut announcements = self.bus.open().start_after(self.bus.last_number());
        let mut ticks = tokio::time::interval(self.poll.max(Duration::from_millis(50)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let watch = self.watch.clone();
        loop {
            let woken = tokio::select! {
                _ = stop.wait_for(|stop| *stop) => break,
                _ = ticks.tick() => Woken::Tick,
                _ = watch.wake.notified() => Woken::All,
                heard = announcements.next() => match heard {
                    Ok(Some(Broadcast::Events(a))) if watch.has(a.tenant) => Woken::Tenant(a.tenant),
                    Ok(Some(Broadcast::Events(_))) => continue,
                    Ok(None) => break,
                    Ok(Some(Broadcast::Interrupted)) | Err(_) => Woken::All,
                },
            };
            let tenants = match woken {
                Woken::Tenant(tenant) => vec![tenant],
                Woken::All => watch.all(),
                Woken::Tick => match self.refresh().await {
                    Ok(()) => watch.all(),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot list alert rules; will retry");
                        continue;
                    }
                },
            };
            for tenant in tenants {
                if let Err(e) = self.tenant(tenant).await {
                    tracing::warn!(error = %e, tenant = %tenant, "alert rule evaluation failed; will retry");
                }
            }
        }
        let _gate = self.store.write_gate().await;
        if let Err(e) = alert_rules::release_all(self.store.db(), &self.holder).await {
            tracing::warn!(error = %e, "cannot release alert rule leases; they will lapse");
        }
    }

    /// Learns which tenants have rules (made on any replica).
    async fn refresh(&self) -> Result<()> {
        let tenants = alert_rules::tenants(self.store.db()).await?;
        *self.watch.tenants.lock().unwrap() = tenants.into_iter().collect();
        Ok(())
    }

    /// Evaluates every rule of `tenant` this replica may hold.
    async fn tenant(&mut self, tenant: TenantId) -> Result<()> {
        let now = self.store.now();
        for rule in alert_rules::evaluable(self.store.db(), tenant, &self.holder, now).await? {
            let id = rule.id;
            if let Err(e) = self.rule(rule).await {
                // Rebuilt from the log next time.
                self.states.remove(&id);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Takes a rule's lease and evaluates it up to the log's current size.
    async fn rule(&mut self, rule: AlertRule) -> Result<()> {
        let now = self.store.now();
        let until = now + chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::seconds(30));
        let claimed = {
            let _gate = self.store.write_gate().await;
            alert_rules::claim(self.store.db(), rule.id, &self.holder, now, until).await?
        };
        if !claimed {
            self.states.remove(&rule.id);
            return Ok(());
        }
        let db = self.store.db();
        let Some(rule) = alert_rules::by_id(db, rule.tenant, rule.id).await? else { return Ok(()) };
        let filter = criteria(&rule, self.store.now())?;
        let current = |s: &State| s.updated_at == rule.updated_at && s.position == rule.evaluated_sequence;
        if !self.states.get(&rule.id).is_some_and(current) {
            let state = self.rebuild(&rule, &filter).await?;
            self.states.insert(rule.id, state);
        }
        let size = ledger::head(db, rule.tenant).await?.size();
        let mut follow = Follow::new(rule.tenant, filter, rule.evaluated_sequence.max(0) as u64, BATCH);
        while let Some(batch) = follow.next(db, size).await? {
            let state = self.states.get_mut(&rule.id).expect("built above");
            let mut crossings = Vec::new();
            for event in &batch.events {
                let key = alert_rule::key_of(event, &rule.group_by);
                if let Some(crossing) = state.windows.push(key, event.received_at, event.sequence)
                    && alert_rule::cooled_down(
                        state.fired.get(&crossing.key).copied(),
                        crossing.window_end,
                        rule.cooldown_seconds,
                    )
                {
                    state.fired.insert(crossing.key.clone(), crossing.window_end);
                    crossings.push(crossing);
                }
            }
            if let Some(last) = batch.events.last() {
                state.windows.forget_before(last.received_at);
            }
            if !self.save(&rule, &crossings, batch.through).await? {
                // Another replica took the rule: its state is its own.
                self.states.remove(&rule.id);
                return Ok(());
            }
            if let Some(state) = self.states.get_mut(&rule.id) {
                state.position = batch.through as i64;
            }
        }
        Ok(())
    }

    /// Records the crossings' `alert.fired` events, their firings and the new
    /// position in one transaction; `false` (nothing saved) without the lease.
    async fn save(&self, rule: &AlertRule, crossings: &[Crossing], through: u64) -> Result<bool> {
        let mut unit = UnitOfWork::begin(&self.store, &self.bus).await?;
        if !alert_rules::advance(unit.txn(), rule.id, &self.holder, through).await? {
            return Ok(false);
        }
        if !crossings.is_empty() {
            let fired = crossings.iter().map(|c| fired_event(unit.now, rule, c)).collect();
            unit.record(rule.tenant, fired).await?;
            for c in crossings {
                alert_rules::fired(unit.txn(), rule, &c.key, c.window_end, unit.now).await?;
            }
        }
        unit.commit().await?;
        Ok(true)
    }

    /// A rule's windows as of its saved position: its matching events within
    /// one window before the last one evaluated, and its keys' last firings.
    async fn rebuild(&self, rule: &AlertRule, filter: &Filter) -> Result<State> {
        let db = self.store.db();
        let mut windows = Windows::new(rule.threshold, rule.window_seconds);
        let evaluated = rule.evaluated_sequence.max(0) as u64;
        if let Some(last) = events::by_sequence(db, rule.tenant, evaluated, 1).await?.pop()
            && last.sequence as u64 == evaluated
        {
            let since = last.received_at - chrono::Duration::seconds(i64::from(rule.window_seconds));
            let recent = Range { gte: Some(since.timestamp_micros()), ..Default::default() };
            let window = filter.clone().and(Filter::Cond(Condition::Position(OrderField::ReceivedAt, recent)));
            let mut replay = Follow::new(rule.tenant, window, 0, BATCH);
            while let Some(batch) = replay.next(db, evaluated).await? {
                for event in &batch.events {
                    windows.push(alert_rule::key_of(event, &rule.group_by), event.received_at, event.sequence);
                }
            }
        }
        let fired = alert_rules::firings(db, rule).await?;
        Ok(State { updated_at: rule.updated_at, position: rule.evaluated_sequence, windows, fired })
    }
}

/// The events a rule counts: its filter and query, never `alert.fired`.
fn criteria(rule: &AlertRule, now: DateTime<Utc>) -> Result<Filter> {
    let spec = FilterSpec::from_json(rule.filter.clone(), "filter")?;
    let filter = super::criteria::combine(Some(spec), rule.query.as_deref(), now)?;
    let fired = Filter::Cond(Condition::Str(StrField::Action, StrTest::Eq(FIRED.into())));
    Ok(filter.and(Filter::Not(Box::new(follow::self_audit().and(fired)))))
}

/// The action of the event a firing records.
pub const FIRED: &str = "alert.fired";

/// The `alert.fired` event of a crossing.
fn fired_event(at: DateTime<Utc>, rule: &AlertRule, c: &Crossing) -> NewEvent {
    let mut event = self_audit(
        at,
        FIRED,
        &Acting::System,
        NewResource { kind: "alert_rule".into(), external_id: rule.id.to_string(), name: Some(rule.name.clone()) },
        format!("Alert rule `{}` fired: {} events in {} s", rule.name, c.count, rule.window_seconds),
        json!({
            "rule": rule.id.to_string(),
            "name": rule.name,
            "count": c.count,
            "key": c.key,
            "windowStart": instant(c.window_start),
            "windowEnd": instant(c.window_end),
            "firstSequence": c.first_sequence.to_string(),
            "lastSequence": c.last_sequence.to_string(),
        }),
    );
    event.actor = NewActor {
        kind: ActorType::System,
        external_id: "auditgraph".into(),
        display_name: Some("auditgraph alert rules".into()),
        email: None,
        roles: None,
    };
    event
}

fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

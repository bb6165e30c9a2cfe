//! Realistic sample events, drawn from the actions of the five reference APIs
//! our users come from: lifecycle events, request-level events with HTTP
//! context, operator actions, failures with reasons. Deterministic for a seed.

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::bus::Bus;
use crate::domain::event::{ActorType, FieldChange, NewActor, NewEvent, NewResource, Outcome, RequestContext};
use crate::domain::scope::{Scope, Scopes};
use crate::error::Result;
use crate::service;
use crate::service::self_audit::Acting;
use crate::store::{Store, tenants};

/// One kind of event: its action, what it targets, what else it involves, which
/// service emits it and the HTTP route that causes it (if any).
struct Template {
    action: &'static str,
    resource: &'static str,
    related: &'static [&'static str],
    service: &'static str,
    route: Option<(&'static str, &'static str)>,
}

const fn t(
    action: &'static str,
    resource: &'static str,
    related: &'static [&'static str],
    service: &'static str,
    route: Option<(&'static str, &'static str)>,
) -> Template {
    Template { action, resource, related, service, route }
}

const TEMPLATES: &[Template] = &[
    // Workspace lifecycle (reference 000).
    t("workspace.create", "workspace", &[], "workspaces", Some(("POST", "/v1/workspaces"))),
    t("workspace.delete", "workspace", &[], "workspaces", Some(("DELETE", "/v1/workspaces/{id}"))),
    t("workspace.name.update", "workspace", &[], "workspaces", Some(("PATCH", "/v1/workspaces/{id}"))),
    t("workspace.template.update", "workspace", &[], "workspaces", Some(("PATCH", "/v1/workspaces/{id}/template"))),
    t(
        "workspace.snapshot.create",
        "snapshot",
        &["workspace"],
        "workspaces",
        Some(("POST", "/v1/workspaces/{id}/snapshots")),
    ),
    t(
        "workspace.snapshot.restore",
        "snapshot",
        &["workspace"],
        "workspaces",
        Some(("POST", "/v1/snapshots/{id}/restore")),
    ),
    t("workspace.snapshot.delete", "snapshot", &["workspace"], "workspaces", Some(("DELETE", "/v1/snapshots/{id}"))),
    t("session.create", "session", &["workspace"], "sessions", Some(("POST", "/v1/sessions"))),
    t("session.terminate", "session", &["workspace"], "sessions", Some(("DELETE", "/v1/sessions/{id}"))),
    t("session.exec", "session", &["workspace", "vm"], "sessions", Some(("POST", "/v1/sessions/{id}/exec"))),
    t("api_key.create", "api_key", &[], "auth", Some(("POST", "/v1/api-keys"))),
    t("api_key.revoke", "api_key", &[], "auth", Some(("DELETE", "/v1/api-keys/{id}"))),
    t("billing.account.update", "billing_account", &[], "billing", Some(("PUT", "/v1/billing/account"))),
    t("billing.checkout.create", "checkout", &["billing_account"], "billing", Some(("POST", "/v1/billing/checkout"))),
    // Request-level VM events (reference 001).
    t("vm.start", "vm", &["session"], "compute", Some(("POST", "/v1/vms/{id}/start"))),
    t("vm.stop", "vm", &["session"], "compute", Some(("POST", "/v1/vms/{id}/stop"))),
    t("task.run", "task", &["vm", "session"], "workers", None),
    // Operator actions (reference 002).
    t("incident.acknowledge", "incident", &[], "operator", Some(("POST", "/api/v1/incidents/{id}/ack"))),
    t("incident.snooze", "incident", &[], "operator", Some(("POST", "/api/v1/incidents/{id}/snooze"))),
    t("approval.approve", "approval", &["incident"], "operator", Some(("POST", "/api/v1/approvals/{id}/approve"))),
    t("approval.reject", "approval", &["incident"], "operator", Some(("POST", "/api/v1/approvals/{id}/reject"))),
    t("runbook.create", "runbook", &[], "operator", Some(("POST", "/api/v1/runbooks"))),
    t("runbook.update", "runbook", &[], "operator", Some(("PUT", "/api/v1/runbooks/{id}"))),
    t("remediation.execute", "remediation", &["incident", "runbook"], "operator", None),
    t("config.update", "config", &[], "operator", Some(("PUT", "/api/v1/config"))),
    // Tenant audit log (reference 003).
    t("sandbox.created", "sandbox", &[], "sandboxes", Some(("POST", "/api/v1/sandboxes"))),
    t("sandbox.destroyed", "sandbox", &[], "sandboxes", Some(("DELETE", "/api/v1/sandboxes/{id}"))),
    t("sandbox.exec", "sandbox", &[], "sandboxes", Some(("POST", "/api/v1/sandboxes/{id}/exec"))),
    t("computer.created", "computer", &[], "computers", Some(("POST", "/api/v1/computers"))),
    t("computer.stopped", "computer", &[], "computers", Some(("POST", "/api/v1/computers/{id}/stop"))),
    t("webhook.created", "webhook", &[], "webhooks", Some(("POST", "/api/v1/webhooks"))),
    t("settings.updated", "settings", &[], "tenants", Some(("PATCH", "/api/v1/settings"))),
    // Service audit events (reference 004).
    t("users.auth.login", "user", &[], "users", Some(("POST", "/api/v1/auth/login"))),
    t("users.auth.refresh", "user", &[], "users", Some(("POST", "/api/v1/auth/refresh"))),
    t("users.password_reset.request", "user", &[], "users", Some(("POST", "/api/v1/password-reset"))),
    t("accounts.account.create", "account", &[], "accounts", Some(("POST", "/api/v1/accounts"))),
    t("accounts.money.deposit", "account", &[], "accounts", Some(("POST", "/api/v1/accounts/{id}/deposits"))),
    t("accounts.money.transfer", "account", &["account"], "accounts", Some(("POST", "/api/v1/transfers"))),
    t("ledger.transaction.post", "ledger_transaction", &["account"], "ledger", None),
];

const FIRST: &[&str] = &[
    "Ada",
    "Grace",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Dennis",
    "Frances",
    "Edsger",
    "Radia",
    "Tim",
    "Katherine",
    "Alan",
    "Hedy",
    "Donald",
    "Anita",
];
const LAST: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Berners-Lee",
    "Johnson",
    "Turing",
    "Lamarr",
    "Knuth",
    "Borg",
];
const ROLES: &[&str] = &["admin", "operator", "developer", "viewer", "billing"];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "curl/8.5.0",
    "python-requests/2.32.3",
    "chatcli-operator/1.0",
    "terraform-provider/1.7.2",
];
const FAILURES: &[(&str, i32)] = &[
    ("permission denied: missing role", 403),
    ("quota exceeded for this plan", 429),
    ("resource not found", 404),
    ("validation failed: name already taken", 422),
    ("upstream timeout after 30s", 504),
    ("internal error while provisioning", 500),
];

/// Actor `n` of the sample pool: the same every time it is drawn.
fn actor_spec(n: usize) -> NewActor {
    let kind = match n % 20 {
        0 => ActorType::ServiceAccount,
        1 => ActorType::ApiKey,
        2 => ActorType::InternalService,
        3 if n % 60 == 3 => ActorType::System,
        _ => ActorType::User,
    };
    let first = FIRST[n % FIRST.len()];
    let last = LAST[(n / FIRST.len()) % LAST.len()];
    match kind {
        ActorType::User => NewActor {
            kind,
            external_id: format!("{}", 1000 + n),
            display_name: Some(format!("{first} {last}")),
            email: Some(format!("{}.{}{}@example.com", first.to_lowercase(), last.to_lowercase().replace('-', ""), n)),
            roles: Some(vec![ROLES[n % ROLES.len()].to_string()]),
        },
        ActorType::System => NewActor {
            kind,
            external_id: "scheduler".into(),
            display_name: Some("Scheduler".into()),
            email: None,
            roles: Some(vec!["system".into()]),
        },
        _ => NewActor {
            kind,
            external_id: format!("{}-{n}", kind.as_str().to_lowercase().replace('_', "-")),
            display_name: Some(format!("{} {n}", ["deploy-bot", "ci-runner", "billing-sync", "backup-agent"][n % 4])),
            email: None,
            roles: Some(vec!["service".into()]),
        },
    }
}

/// Resource `n` of kind `kind` in the sample pool.
fn resource_spec(kind: &str, n: usize) -> NewResource {
    let short: String = kind.split('_').map(|w| &w[..1]).collect();
    NewResource {
        kind: kind.to_string(),
        external_id: format!("{short}_{n:06}"),
        name: Some(format!("{} {n}", kind.replace('_', " "))),
    }
}

/// Every resource kind the templates name.
fn resource_kinds() -> Vec<&'static str> {
    let mut kinds: Vec<&str> =
        TEMPLATES.iter().flat_map(|t| std::iter::once(t.resource).chain(t.related.iter().copied())).collect();
    kinds.sort_unstable();
    kinds.dedup();
    kinds
}

/// Draws sample events for one tenant.
pub struct Generator {
    rng: StdRng,
    actors: usize,
    resources: usize,
    end: DateTime<Utc>,
    span: Duration,
    serial: u64,
}

impl Generator {
    /// `actors` and `resources` are pool sizes; events fall in the `days` before `end`.
    pub fn new(seed: u64, actors: usize, resources: usize, days: i64, end: DateTime<Utc>) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            actors: actors.max(1),
            resources: resources.max(1),
            end,
            span: Duration::days(days.max(1)),
            serial: 0,
        }
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.random_range(0..items.len())]
    }

    fn actor(&mut self) -> NewActor {
        // A few actors do most things, as in real logs.
        actor_spec((self.rng.random::<f64>().powi(2) * self.actors as f64) as usize)
    }

    /// Resources per kind: the pool holds `resources` in all.
    fn per_kind(&self) -> usize {
        (self.resources / resource_kinds().len()).max(1)
    }

    fn resource(&mut self, kind: &str) -> NewResource {
        resource_spec(kind, (self.rng.random::<f64>().powi(2) * self.per_kind() as f64) as usize)
    }

    /// Every actor and resource these events can name, so a bulk load can
    /// create them before the events that reference them.
    pub fn pools(&self) -> (Vec<NewActor>, Vec<NewResource>) {
        let actors = (0..self.actors).map(actor_spec).collect();
        let per_kind = self.per_kind();
        let resources =
            resource_kinds().into_iter().flat_map(|k| (0..per_kind).map(move |n| resource_spec(k, n))).collect();
        (actors, resources)
    }

    /// The next sample event, received at `received_at`: it occurred up to a
    /// minute before.
    pub fn event_received_at(&mut self, received_at: DateTime<Utc>) -> NewEvent {
        let mut event = self.event();
        let before = Duration::microseconds(self.rng.random_range(0..60_000_000));
        event.occurred_at = crate::domain::clock::truncate_to_micros(received_at - before);
        event
    }

    /// The next sample event.
    pub fn event(&mut self) -> NewEvent {
        self.serial += 1;
        let tpl = &TEMPLATES[self.rng.random_range(0..TEMPLATES.len())];
        let mut actor = self.actor();
        let failed = self.rng.random_bool(0.08);
        let anonymous_login = failed && tpl.action == "users.auth.login" && self.rng.random_bool(0.5);
        if anonymous_login {
            actor = NewActor {
                kind: ActorType::Anonymous,
                external_id: "anonymous".into(),
                display_name: None,
                email: None,
                roles: None,
            };
        }
        let resource = self.resource(tpl.resource);
        let related = tpl.related.iter().map(|k| self.resource(k)).collect::<Vec<_>>();
        let (error_message, status) = if failed {
            let (m, s) = self.pick(FAILURES);
            (Some(m.to_string()), s)
        } else {
            (None, if tpl.action.ends_with("create") || tpl.action.ends_with("created") { 201 } else { 200 })
        };
        let occurred_at =
            self.end - Duration::microseconds(self.rng.random_range(0..self.span.num_microseconds().unwrap_or(1)));
        let request = tpl.route.map(|(method, path)| RequestContext {
            id: Some(format!("req_{:016x}", self.rng.random::<u64>())),
            method: Some(method.to_string()),
            path: Some(path.replace("{id}", &resource.external_id)),
            status: Some(status),
            latency_ms: Some((self.rng.random::<f64>() * 400.0 * 100.0).round() / 100.0),
            ip_address: Some(if self.rng.random_bool(0.8) {
                std::net::IpAddr::from([
                    10,
                    self.rng.random_range(0..4),
                    self.rng.random(),
                    self.rng.random_range(1..255),
                ])
            } else {
                std::net::IpAddr::from([
                    0x2001,
                    0xdb8,
                    0,
                    self.rng.random_range(0..16),
                    0,
                    0,
                    0,
                    self.rng.random_range(1..0xffff),
                ])
            }),
            user_agent: Some(self.pick(AGENTS).to_string()),
        });
        let environment = if self.rng.random_bool(0.7) { "production" } else { "sandbox" };
        let mut metadata = serde_json::Map::new();
        match tpl.service {
            "compute" | "workers" => {
                metadata.insert(
                    "node_ip".into(),
                    json!(format!("10.8.{}.{}", self.rng.random_range(0..8), self.rng.random_range(1..255))),
                );
                metadata.insert("worker_id".into(), json!(format!("worker-{}", self.rng.random_range(1..32))));
                metadata.insert("task_id".into(), json!(self.rng.random_range(1000..99999)));
            }
            "accounts" | "ledger" => {
                metadata.insert("amount_cents".into(), json!(self.rng.random_range(100..500_000)));
                metadata.insert("currency".into(), json!(self.pick(&["USD", "EUR", "BRL"])));
            }
            "operator" => {
                metadata.insert("namespace".into(), json!(environment));
                metadata.insert("comment".into(), json!("Investigating memory growth in payment-service"));
            }
            _ => {
                metadata.insert("plan".into(), json!(self.pick(&["free", "team", "enterprise"])));
            }
        }
        let changes = if tpl.action.ends_with(".update") || tpl.action.ends_with("updated") {
            vec![FieldChange {
                field: "name".into(),
                before: Some(json!(format!("{} (old)", resource.external_id))),
                after: Some(json!(resource.name.clone())),
            }]
        } else {
            Vec::new()
        };
        let reason = (tpl.action.contains("delete") || tpl.action.contains("revoke") || tpl.action.contains("reject"))
            .then(|| self.pick(&["requested by owner", "security review", "cost reduction", "duplicate"]).to_string());
        NewEvent {
            action: tpl.action.to_string(),
            outcome: if failed { Outcome::Failure } else { Outcome::Success },
            occurred_at: crate::domain::clock::truncate_to_micros(occurred_at),
            summary: Some(format!(
                "{} {} {}",
                actor.display_name.clone().unwrap_or_else(|| actor.external_id.clone()),
                verb(tpl.action),
                resource.name.clone().unwrap_or_default()
            )),
            actor,
            resource: Some(resource),
            related_resources: related,
            reason,
            error_message,
            environment: Some(environment.to_string()),
            source_service: Some(tpl.service.to_string()),
            correlation_id: Some(format!("corr_{:012x}", self.serial / 3)),
            request,
            metadata,
            changes,
            idempotency_key: None,
            personal: Vec::new(),
        }
    }
}

/// "workspace.snapshot.create" → "create on".
fn verb(action: &str) -> String {
    let last = action.rsplit('.').next().unwrap_or(action).replace('_', " ");
    format!("{last} on")
}

pub const DEMO_TENANT: &str = "demo";

/// Makes sure the demo tenant exists with sample events, and returns a new read key.
pub async fn prepare(store: &Store, events_wanted: usize) -> Result<String> {
    let bus = Bus::new(1);
    let tenant = match tenants::by_slug(store.db(), DEMO_TENANT).await? {
        Some(t) => t,
        None => {
            let tenant =
                service::tenants::create_tenant(store, &bus, DEMO_TENANT, Some("Demo Inc."), Acting::System).await?;
            let mut generator = Generator::new(42, 60, 400, 28, store.now());
            let mut left = events_wanted;
            while left > 0 {
                let n = left.min(crate::domain::event::MAX_BATCH);
                let batch = (0..n).map(|_| generator.event()).collect();
                service::events::store_batch(store, &bus, tenant.id, batch).await?;
                left -= n;
            }
            tenant
        }
    };
    let (_, secret) = service::keys::create_key(
        store,
        &bus,
        tenant.id,
        "demo read key",
        Scopes::new(vec![Scope::AuditRead]),
        Acting::System,
    )
    .await?;
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_events_are_valid_and_deterministic() {
        let end = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        let a: Vec<NewEvent> = {
            let mut g = Generator::new(7, 50, 100, 30, end);
            (0..200).map(|_| g.event()).collect()
        };
        let b: Vec<NewEvent> = {
            let mut g = Generator::new(7, 50, 100, 30, end);
            (0..200).map(|_| g.event()).collect()
        };
        assert_eq!(a, b);
        for e in &a {
            crate::domain::event::check::action("a", e.action.clone()).unwrap();
            assert!(e.occurred_at <= end && e.occurred_at > end - Duration::days(30));
        }
        assert!(a.iter().any(|e| e.outcome == Outcome::Failure));
    }
}

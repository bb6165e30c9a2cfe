//! `AlertRule`, its inputs and payloads, and the rule operations.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::context::ContextExt;
use super::enums::StatsDimension;
use super::filter_input::AuditEventFilter;
use super::scalars::{DateTime, Json};
use crate::domain::alert_rule::{
    AlertRule as StoredRule, DEFAULT_COOLDOWN_SECONDS, DEFAULT_THRESHOLD, DEFAULT_WINDOW_SECONDS,
};
use crate::domain::ids::AlertRuleId;
use crate::error::Result;
use crate::service::alert_rules::{self as manage, NewRule, RuleChange};

/// A threshold on the live log: `alert.fired` is recorded when at least
/// `threshold` matching events (per `groupBy` key) are received within
/// `windowSeconds`, at most once per key per `cooldownSeconds`.
#[derive(Clone)]
pub struct AlertRule(pub StoredRule);

/// A threshold on the live log: `alert.fired` is recorded when at least
/// `threshold` matching events (per `groupBy` key) are received within
/// `windowSeconds`, at most once per key per `cooldownSeconds`.
#[Object]
impl AlertRule {
    /// The rule's global ID (`alr_…`).
    pub async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// What the rule is for.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The events it counts, as an `AuditEventFilter` in JSON (`{}`: all).
    async fn filter(&self) -> Json {
        async_graphql::Json(self.0.filter.clone())
    }

    /// The query string the events must match too.
    async fn query(&self) -> Option<&str> {
        self.0.query.as_deref()
    }

    /// Events within one window that fire the rule.
    async fn threshold(&self) -> i32 {
        self.0.threshold
    }

    /// The window's length in seconds (1–86,400), by `receivedAt`.
    async fn window_seconds(&self) -> i32 {
        self.0.window_seconds
    }

    /// The dimensions windows are kept per (none: one window).
    async fn group_by(&self) -> Vec<StatsDimension> {
        self.0.group_by.iter().map(|d| (*d).into()).collect()
    }

    /// The least time between two firings for one key.
    async fn cooldown_seconds(&self) -> i32 {
        self.0.cooldown_seconds
    }

    /// Whether evaluation is paused.
    async fn paused(&self) -> bool {
        self.0.paused
    }

    /// When it last fired, for any key.
    async fn last_fired_at(&self) -> Option<DateTime> {
        self.0.last_fired_at.map(Into::into)
    }

    /// When it was created.
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
}

/// A rule to create.
#[derive(InputObject)]
pub struct CreateAlertRuleInput {
    /// What the rule is for (1–255 characters).
    pub name: String,
    /// The events to count (default: all of the tenant's).
    pub filter: Option<AuditEventFilter>,
    /// A query string the events must match too.
    pub query: Option<String>,
    /// Events within one window that fire the rule (at least 1).
    #[graphql(default_with = "DEFAULT_THRESHOLD")]
    pub threshold: i32,
    /// The window's length in seconds (1–86,400).
    #[graphql(default_with = "DEFAULT_WINDOW_SECONDS")]
    pub window_seconds: i32,
    /// Keep a window per key of these dimensions (at most 3).
    pub group_by: Option<Vec<StatsDimension>>,
    /// The least time between two firings for one key, in seconds.
    #[graphql(default_with = "DEFAULT_COOLDOWN_SECONDS")]
    pub cooldown_seconds: i32,
}

/// A change to a rule; unset fields stay as they are.
#[derive(InputObject)]
pub struct UpdateAlertRuleInput {
    /// A new name.
    pub name: Option<String>,
    /// A new filter: windows restart from the log under it.
    pub filter: Option<AuditEventFilter>,
    /// A new query string.
    pub query: Option<String>,
    /// A new threshold.
    pub threshold: Option<i32>,
    /// A new window length in seconds.
    pub window_seconds: Option<i32>,
    /// New dimensions to keep windows per.
    pub group_by: Option<Vec<StatsDimension>>,
    /// A new cooldown in seconds.
    pub cooldown_seconds: Option<i32>,
    /// Pause or resume evaluation.
    pub paused: Option<bool>,
}

/// The deleted rule's ID.
#[derive(SimpleObject)]
pub struct DeleteAlertRulePayload {
    /// The deleted rule's global ID.
    pub id: ID,
}

fn dimensions(group_by: Option<Vec<StatsDimension>>) -> Option<Vec<crate::domain::stats::StatsDimension>> {
    group_by.map(|dims| dims.into_iter().map(Into::into).collect())
}

pub async fn list(ctx: &Context<'_>) -> Result<Vec<AlertRule>> {
    Ok(manage::list(ctx.session()).await?.into_iter().map(AlertRule).collect())
}

pub async fn create(ctx: &Context<'_>, input: CreateAlertRuleInput) -> Result<AlertRule> {
    let new = NewRule {
        name: input.name,
        filter: input.filter.map(Into::into),
        query: input.query,
        threshold: input.threshold,
        window_seconds: input.window_seconds,
        group_by: dimensions(input.group_by).unwrap_or_default(),
        cooldown_seconds: input.cooldown_seconds,
    };
    Ok(AlertRule(manage::create(ctx.session(), new).await?))
}

pub async fn update(ctx: &Context<'_>, id: ID, input: UpdateAlertRuleInput) -> Result<AlertRule> {
    let id = AlertRuleId::parse(&id, "id")?;
    let change = RuleChange {
        name: input.name,
        filter: input.filter.map(Into::into),
        query: input.query,
        threshold: input.threshold,
        window_seconds: input.window_seconds,
        group_by: dimensions(input.group_by),
        cooldown_seconds: input.cooldown_seconds,
        paused: input.paused,
    };
    Ok(AlertRule(manage::update(ctx.session(), id, change).await?))
}

pub async fn delete(ctx: &Context<'_>, id: ID) -> Result<DeleteAlertRulePayload> {
    let rule = AlertRuleId::parse(&id, "id")?;
    let rule = manage::delete(ctx.session(), rule).await?;
    Ok(DeleteAlertRulePayload { id: ID(rule.id.to_string()) })
}

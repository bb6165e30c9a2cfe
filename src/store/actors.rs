//! Actors: created on first sight, keyed by (tenant, type, external ID), updated
//! by later recordings. The mechanism is [`identities`]; here is what is an actor's own.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::actor;
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Condition, Expr, SimpleExpr};
use uuid::Uuid;

use crate::domain::actor::Actor;
use crate::domain::event::{ActorType, NewActor};
use crate::domain::filter::ActorMatch;
use crate::domain::ids::{ActorId, TenantId};
use crate::domain::page::{Page, PageResult};
use crate::error::Result;

use super::identities::{self, Identity};

/// Identity of an actor within a tenant.
pub type ActorKey = (ActorType, String);

pub struct Actors;

impl Identity for Actors {
    type Entity = actor::Entity;
    type Model = actor::Model;
    type Column = actor::Column;
    type Spec = NewActor;
    type Key = ActorKey;
    type Match = ActorMatch;
    type Record = Actor;

    const NOUN: &'static str = "an actor";
    const ID: actor::Column = actor::Column::Id;
    const TENANT_ID: actor::Column = actor::Column::TenantId;
    const KIND: actor::Column = actor::Column::Kind;
    const EXTERNAL_ID: actor::Column = actor::Column::ExternalId;
    const UPDATED_AT: actor::Column = actor::Column::UpdatedAt;

    fn key(spec: &NewActor) -> ActorKey {
        (spec.kind, spec.external_id.clone())
    }

    fn row_key(row: &actor::Model) -> Option<ActorKey> {
        ActorType::from_stored(&row.kind).map(|kind| (kind, row.external_id.clone()))
    }

    fn external_id(key: &ActorKey) -> &str {
        &key.1
    }

    fn id(row: &actor::Model) -> Uuid {
        row.id
    }

    fn merge(earlier: &mut NewActor, later: &NewActor) {
        if later.display_name.is_some() {
            earlier.display_name = later.display_name.clone();
        }
        if later.email.is_some() {
            earlier.email = later.email.clone();
        }
        if later.roles.is_some() {
            earlier.roles = later.roles.clone();
        }
    }

    fn new_row(tenant: TenantId, spec: &NewActor, now: DateTime<Utc>) -> actor::Model {
        actor::Model {
            id: ActorId::generate().0,
            tenant_id: tenant.0,
            kind: spec.kind.as_str().to_string(),
            external_id: spec.external_id.clone(),
            display_name: spec.display_name.clone(),
            email: spec.email.clone(),
            roles: spec.roles.as_deref().map(roles_json),
            created_at: now,
            updated_at: now,
        }
    }

    fn changes(spec: &NewActor, row: &actor::Model) -> Vec<(actor::Column, SimpleExpr)> {
        let mut set = Vec::new();
        if spec.display_name.is_some() && spec.display_name != row.display_name {
            set.push((actor::Column::DisplayName, Expr::val(spec.display_name.clone())));
        }
        if spec.email.is_some() && spec.email != row.email {
            set.push((actor::Column::Email, Expr::val(spec.email.clone())));
        }
        if let Some(roles) = &spec.roles
            && row.roles.as_ref() != Some(&roles_json(roles))
        {
            set.push((actor::Column::Roles, Expr::val(roles_json(roles))));
        }
        set
    }

    fn matching(m: &ActorMatch) -> Condition {
        super::filter::actor_match(m)
    }

    fn record(row: actor::Model) -> Actor {
        record(row)
    }
}

/// A stored actor as the domain's; a type this version does not know reads as `ANONYMOUS`.
pub(super) fn record(row: actor::Model) -> Actor {
    Actor {
        id: ActorId(row.id),
        tenant: TenantId(row.tenant_id),
        kind: ActorType::from_stored(&row.kind).unwrap_or(ActorType::Anonymous),
        external_id: row.external_id,
        display_name: row.display_name,
        email: row.email,
        roles: row.roles.and_then(|r| serde_json::from_value(r).ok()).unwrap_or_default(),
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

fn roles_json(roles: &[String]) -> serde_json::Value {
    serde_json::json!(roles)
}

/// Creates or updates the actors (later specs win field by field; omitted
/// fields keep their stored value) and returns each one's ID.
#[tracing::instrument(name = "db.actors.upsert", skip_all, fields(tenant = %tenant, n = specs.len()), err(Debug))]
pub async fn upsert(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    specs: Vec<&NewActor>,
    now: DateTime<Utc>,
) -> Result<HashMap<ActorKey, ActorId>> {
    let ids = identities::upsert::<Actors>(db, tenant, specs, now).await?;
    Ok(ids.into_iter().map(|(key, id)| (key, ActorId(id))).collect())
}

/// The actors with these IDs in the tenant (missing ones are absent).
#[tracing::instrument(name = "db.actors.by_ids", skip_all, fields(tenant = %tenant, n = ids.len()), err(Debug))]
pub async fn by_ids(db: &impl ConnectionTrait, tenant: TenantId, ids: &[ActorId]) -> Result<Vec<Actor>> {
    identities::by_ids::<Actors>(db, tenant, ids.iter().map(|id| id.0).collect()).await
}

/// A page of the tenant's actors matching `m`, in ID (creation) order.
#[tracing::instrument(name = "db.actors.page", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn page(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    m: &ActorMatch,
    page: &Page<Uuid>,
) -> Result<PageResult<Actor>> {
    identities::page::<Actors>(db, tenant, m, page).await
}

#[tracing::instrument(name = "db.actors.count", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn count(db: &impl ConnectionTrait, tenant: TenantId, m: &ActorMatch) -> Result<i64> {
    identities::count::<Actors>(db, tenant, m).await
}

/// Clears the actor's `displayName` and `email` (an erasure).
#[tracing::instrument(name = "db.actors.forget_profile", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn forget_profile(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: ActorId,
    now: DateTime<Utc>,
) -> Result<()> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    actor::Entity::update_many()
        .col_expr(actor::Column::DisplayName, Expr::value(Option::<String>::None))
        .col_expr(actor::Column::Email, Expr::value(Option::<String>::None))
        .col_expr(actor::Column::UpdatedAt, Expr::value(now))
        .filter(actor::Column::TenantId.eq(tenant.0))
        .filter(actor::Column::Id.eq(id.0))
        .exec(db)
        .await?;
    Ok(())
}

/// The tenant's actor of this type and external ID, if any.
#[tracing::instrument(name = "db.actors.by_key", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn by_key(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    kind: ActorType,
    external_id: &str,
) -> Result<Option<Actor>> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let row = actor::Entity::find()
        .filter(actor::Column::TenantId.eq(tenant.0))
        .filter(actor::Column::Kind.eq(kind.as_str()))
        .filter(actor::Column::ExternalId.eq(external_id))
        .one(db)
        .await?;
    Ok(row.map(record))
}

//! Actors' wrapped data keys and the master key's row (`data_key`,
//! `data_master`): stored, read and destroyed. Wrapping is the domain's
//! (`domain::data_key`); this module sees only the stored text.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{data_key, data_master};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::domain::ids::{ActorId, TenantId};
use crate::error::Result;

/// The master key's one row.
const MASTER_ROW: i32 = 1;

/// The wrapped data keys of those of `actors` that have one.
#[tracing::instrument(name = "db.data_keys.wrapped", skip_all, fields(tenant = %tenant, n = actors.len()), err(Debug))]
pub async fn wrapped(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    actors: &[ActorId],
) -> Result<HashMap<ActorId, String>> {
    if actors.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = data_key::Entity::find()
        .filter(data_key::Column::TenantId.eq(tenant.0))
        .filter(data_key::Column::ActorId.is_in(actors.iter().map(|a| a.0)))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|r| (ActorId(r.actor_id), r.wrapped)).collect())
}

/// Stores wrapped keys for actors that have none; an actor given one
/// meanwhile (by a concurrent recording) keeps it.
#[tracing::instrument(name = "db.data_keys.insert", skip_all, fields(tenant = %tenant, n = keys.len()), err(Debug))]
pub async fn insert_missing(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    keys: Vec<(ActorId, String)>,
    now: DateTime<Utc>,
) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let rows = keys.into_iter().map(|(actor, wrapped)| data_key::ActiveModel {
        actor_id: Set(actor.0),
        tenant_id: Set(tenant.0),
        wrapped: Set(wrapped),
        created_at: Set(now),
    });
    data_key::Entity::insert_many(rows)
        .on_conflict(OnConflict::column(data_key::Column::ActorId).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Destroys the actor's data key; whether it had one.
#[tracing::instrument(name = "db.data_keys.destroy", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn destroy(db: &impl ConnectionTrait, tenant: TenantId, actor: ActorId) -> Result<bool> {
    let done = data_key::Entity::delete_many()
        .filter(data_key::Column::TenantId.eq(tenant.0))
        .filter(data_key::Column::ActorId.eq(actor.0))
        .exec(db)
        .await?;
    Ok(done.rows_affected > 0)
}

/// The master key's row: its fingerprint, and the key when kept here.
pub async fn master(db: &impl ConnectionTrait) -> Result<Option<data_master::Model>> {
    Ok(data_master::Entity::find_by_id(MASTER_ROW).one(db).await?)
}

/// Stores the master key's row unless one is there already (another
/// replica starting at the same time).
pub async fn insert_master(
    db: &impl ConnectionTrait,
    fingerprint: String,
    stored_key: Option<String>,
    now: DateTime<Utc>,
) -> Result<()> {
    let row = data_master::ActiveModel {
        id: Set(MASTER_ROW),
        fingerprint: Set(fingerprint),
        stored_key: Set(stored_key),
        created_at: Set(now),
    };
    data_master::Entity::insert(row)
        .on_conflict(OnConflict::column(data_master::Column::Id).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

//! Witnesses in the database: the cosignatures they returned for persisted
//! checkpoints, and the size of each tenant's log each one cosigned last.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{ledger_cosignature as cosignature, witness_position as position};
use sea_orm::sea_query::{ArrayType, Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::domain::ids::TenantId;
use crate::error::Result;

/// Keeps a cosignature (once per checkpoint and witness: the first one stays).
#[tracing::instrument(name = "db.witnesses.insert_cosignature", skip_all, fields(tenant = %tenant, size), err(Debug))]
pub async fn insert_cosignature(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    size: u64,
    witness: &str,
    signature: &str,
    cosigned_at: DateTime<Utc>,
) -> Result<()> {
    let row = cosignature::ActiveModel {
        tenant_id: sea_orm::ActiveValue::Set(tenant.0),
        size: sea_orm::ActiveValue::Set(size as i64),
        witness: sea_orm::ActiveValue::Set(witness.to_string()),
        signature: sea_orm::ActiveValue::Set(signature.to_string()),
        cosigned_at: sea_orm::ActiveValue::Set(cosigned_at),
    };
    cosignature::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                cosignature::Column::TenantId,
                cosignature::Column::Size,
                cosignature::Column::Witness,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The cosignatures of the tenant's checkpoints of these sizes, in one statement.
#[tracing::instrument(name = "db.witnesses.cosignatures", skip_all, fields(tenant = %tenant, n = sizes.len()), err(Debug))]
pub async fn cosignatures(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    sizes: &[u64],
) -> Result<Vec<cosignature::Model>> {
    if sizes.is_empty() {
        return Ok(Vec::new());
    }
    Ok(cosignature::Entity::find()
        .filter(cosignature::Column::TenantId.eq(tenant.0))
        .filter(super::sql::any_of(
            db.get_database_backend(),
            cosignature::Column::Size,
            sizes.iter().map(|&s| s as i64).collect(),
            ArrayType::BigInt,
        ))
        .order_by_asc(cosignature::Column::Size)
        .order_by_asc(cosignature::Column::Witness)
        .all(db)
        .await?)
}

/// The size of each tenant's log the witness cosigned last.
#[tracing::instrument(name = "db.witnesses.positions", skip_all, err(Debug))]
pub async fn positions(db: &impl ConnectionTrait, witness: &str) -> Result<HashMap<TenantId, u64>> {
    let rows = position::Entity::find().filter(position::Column::Witness.eq(witness)).all(db).await?;
    Ok(rows.into_iter().map(|row| (TenantId(row.tenant_id), u64::try_from(row.size).unwrap_or(0))).collect())
}

/// Records that the witness cosigned the tenant's log at `size`; a position
/// never moves back (another replica may have recorded a later one).
#[tracing::instrument(name = "db.witnesses.advance", skip_all, fields(tenant = %tenant, size), err(Debug))]
pub async fn advance(
    db: &impl ConnectionTrait,
    witness: &str,
    tenant: TenantId,
    size: u64,
    now: DateTime<Utc>,
) -> Result<()> {
    let row = position::ActiveModel {
        witness: sea_orm::ActiveValue::Set(witness.to_string()),
        tenant_id: sea_orm::ActiveValue::Set(tenant.0),
        size: sea_orm::ActiveValue::Set(size as i64),
        updated_at: sea_orm::ActiveValue::Set(now),
    };
    position::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([position::Column::Witness, position::Column::TenantId])
                .update_columns([position::Column::Size, position::Column::UpdatedAt])
                .action_and_where(Expr::col((position::Entity, position::Column::Size)).lt(size as i64))
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

//! The progress of the words' backfill (`word_backfill`, filled by the
//! migration that made the words' index): per tenant, the range of sequences
//! that may still hold events without words. A range is worked from its
//! start, its row moved on with each chunk and removed with the last one.

use entity::word_backfill as wb;
use sea_orm::sea_query::{LockBehavior, LockType};
use sea_orm::{
    ActiveValue, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};

use crate::domain::ids::TenantId;
use crate::error::Result;

/// Events of a tenant that may lack words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pending {
    pub tenant: TenantId,
    /// The first sequence not yet done.
    pub next: i64,
    /// The last sequence to do.
    pub last: i64,
}

/// Whether any range is left.
pub async fn any(db: &impl ConnectionTrait) -> Result<bool> {
    Ok(wb::Entity::find().count(db).await? > 0)
}

/// A range left, locked for the caller's transaction on PostgreSQL; one
/// another server is working on is skipped.
pub async fn next(db: &impl ConnectionTrait) -> Result<Option<Pending>> {
    let mut find = wb::Entity::find();
    if db.get_database_backend() == DbBackend::Postgres {
        find = find.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let row = find.one(db).await?;
    Ok(row.map(|r| Pending { tenant: TenantId(r.tenant_id), next: r.next_sequence, last: r.last_sequence }))
}

/// Records that `pending` is done up to `through`: the range then starts
/// after it, or is gone.
pub async fn done_through(db: &impl ConnectionTrait, pending: Pending, through: i64) -> Result<()> {
    if through >= pending.last {
        wb::Entity::delete_by_id(pending.tenant.0).exec(db).await?;
    } else {
        wb::Entity::update_many()
            .set(wb::ActiveModel { next_sequence: ActiveValue::Set(through + 1), ..Default::default() })
            .filter(wb::Column::TenantId.eq(pending.tenant.0))
            .exec(db)
            .await?;
    }
    Ok(())
}

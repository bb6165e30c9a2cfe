//! Leases on rows that one replica at a time may work on (a stream's
//! deliveries, a rule's evaluation): a holder and an expiry in the row,
//! taken and renewed by a conditional update, so two replicas cannot both
//! hold one.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter};

use crate::error::Result;

/// A table whose rows carry a lease.
pub trait Leased: EntityTrait {
    /// Who holds the lease (`NULL`: nobody).
    const HOLDER: Self::Column;
    /// Until when it holds (`NULL`: nobody).
    const UNTIL: Self::Column;
}

impl Leased for entity::event_stream::Entity {
    const HOLDER: Self::Column = entity::event_stream::Column::LeaseHolder;
    const UNTIL: Self::Column = entity::event_stream::Column::LeaseUntil;
}

impl Leased for entity::alert_rule::Entity {
    const HOLDER: Self::Column = entity::alert_rule::Column::LeaseHolder;
    const UNTIL: Self::Column = entity::alert_rule::Column::LeaseUntil;
}

/// Rows whose lease is free, expired, or already `holder`'s.
pub fn open<E: Leased>(holder: &str, now: DateTime<Utc>) -> Condition {
    Condition::any().add(E::UNTIL.is_null()).add(E::UNTIL.lt(now)).add(E::HOLDER.eq(holder))
}

/// Takes or renews for `holder` until `until` the lease of the row `row`
/// selects, unless another holder's lease still runs; whether `holder` now
/// holds it.
pub async fn claim<E: Leased>(
    db: &impl ConnectionTrait,
    row: SimpleExpr,
    holder: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool> {
    let done = E::update_many()
        .col_expr(E::HOLDER, Expr::val(holder).into())
        .col_expr(E::UNTIL, Expr::val(until).into())
        .filter(row)
        .filter(open::<E>(holder, now))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Gives up every lease `holder` still has in the table; how many.
pub async fn release_all<E: Leased>(db: &impl ConnectionTrait, holder: &str) -> Result<u64> {
    let done = E::update_many()
        .col_expr(E::HOLDER, Expr::value(Option::<String>::None))
        .col_expr(E::UNTIL, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(E::HOLDER.eq(holder))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}

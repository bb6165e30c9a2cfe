//! Tenants. Not tenant-scoped by nature: only admins and the command line use this.

use chrono::{DateTime, Utc};
use entity::{audit_event, tenant};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::domain::ids::TenantId;
use crate::domain::tenant::Tenant;
use crate::error::{Error, Result};

/// `^[a-z0-9][a-z0-9-]{0,62}$`: safe in URLs, headers and shell scripts.
pub fn check_slug(slug: &str, path: &str) -> Result<()> {
    let ok = (1..=63).contains(&slug.len())
        && slug.as_bytes()[0].is_ascii_alphanumeric()
        && slug.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'));
    if !ok {
        return Err(Error::bad_input(
            path,
            format!(
                "`{slug}` is not a valid tenant slug: use 1 to 63 lower-case letters, digits and dashes, starting with a letter or digit"
            ),
        ));
    }
    Ok(())
}

#[tracing::instrument(name = "db.tenants.insert", skip_all, fields(slug), err(Debug))]
pub async fn insert(db: &impl ConnectionTrait, slug: &str, name: &str, now: DateTime<Utc>) -> Result<Tenant> {
    check_slug(slug, "slug")?;
    if by_slug(db, slug).await?.is_some() {
        return Err(Error::bad_input("slug", format!("a tenant `{slug}` already exists")));
    }
    let model = tenant::ActiveModel {
        id: Set(TenantId::generate().0),
        slug: Set(slug.to_string()),
        name: Set(name.to_string()),
        created_at: Set(now),
        retention_days: Set(None),
        legal_hold: Set(false),
        purged_through: Set(0),
    };
    tenant::Entity::insert(model.clone()).exec_without_returning(db).await.map_err(|e| {
        if super::sql::is_unique_violation(&e) {
            Error::bad_input("slug", format!("a tenant `{slug}` already exists"))
        } else {
            e.into()
        }
    })?;
    super::ledger::create(db, TenantId(model.id.clone().unwrap()), now).await?;
    Ok(Tenant {
        id: TenantId(model.id.unwrap()),
        slug: model.slug.unwrap(),
        name: model.name.unwrap(),
        created_at: model.created_at.unwrap(),
        retention_days: None,
        legal_hold: false,
    })
}

#[tracing::instrument(name = "db.tenants.by_slug", skip_all, err(Debug))]
pub async fn by_slug(db: &impl ConnectionTrait, slug: &str) -> Result<Option<Tenant>> {
    Ok(tenant::Entity::find().filter(tenant::Column::Slug.eq(slug)).one(db).await?.map(record))
}

#[tracing::instrument(name = "db.tenants.by_id", skip_all, err(Debug))]
pub async fn by_id(db: &impl ConnectionTrait, id: TenantId) -> Result<Option<Tenant>> {
    Ok(tenant::Entity::find_by_id(id.0).one(db).await?.map(record))
}

/// A stored tenant as the domain's.
pub(super) fn record(row: tenant::Model) -> Tenant {
    Tenant {
        id: TenantId(row.id),
        slug: row.slug,
        name: row.name,
        created_at: row.created_at,
        retention_days: row.retention_days,
        legal_hold: row.legal_hold,
    }
}

/// Every tenant with its number of events, oldest tenant first.
#[tracing::instrument(name = "db.tenants.list_with_counts", skip_all, err(Debug))]
pub async fn list_with_counts(db: &impl ConnectionTrait) -> Result<Vec<(Tenant, i64)>> {
    let tenants = tenant::Entity::find().order_by_asc(tenant::Column::CreatedAt).all(db).await?;
    let mut out = Vec::with_capacity(tenants.len());
    for t in tenants {
        let count = Query::select()
            .expr(Expr::col(audit_event::Column::Id).count())
            .from(audit_event::Entity)
            .and_where(Expr::col(audit_event::Column::TenantId).eq(t.id))
            .to_owned();
        let n = super::sql::count(db, &count).await?;
        out.push((record(t), n));
    }
    Ok(out)
}

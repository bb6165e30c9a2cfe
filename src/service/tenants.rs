//! Creating tenants, audited in the new tenant, and the caller's own.

use serde_json::json;

use crate::bus::Bus;
use crate::domain::event::NewResource;
use crate::domain::tenant::Tenant;
use crate::error::{Error, Result};
use crate::store::{Store, tenants};

use super::policy::Operation;
use super::self_audit::{Acting, self_audit};
use super::session::Session;
use super::unit_of_work::UnitOfWork;

/// Creates a tenant, audited as `tenant.create` in it.
pub async fn create_tenant(
    store: &Store,
    bus: &Bus,
    slug: &str,
    name: Option<&str>,
    acting: Acting<'_>,
) -> Result<Tenant> {
    create_tenant_in(UnitOfWork::begin(store, bus).await?, slug, name, acting).await
}

/// Creates a tenant in the unit of work given (`UnitOfWork::begin_at` for a
/// history, as `seed --backdate` makes), audited as `tenant.create` in it.
pub async fn create_tenant_in(
    mut unit: UnitOfWork<'_>,
    slug: &str,
    name: Option<&str>,
    acting: Acting<'_>,
) -> Result<Tenant> {
    let tenant = tenants::insert(unit.txn(), slug, name.unwrap_or(slug), unit.now).await?;
    let event = self_audit(
        unit.now,
        "tenant.create",
        &acting,
        NewResource { kind: "tenant".into(), external_id: tenant.id.to_string(), name: Some(tenant.name.clone()) },
        format!("Tenant `{}` created", tenant.slug),
        json!({ "slug": tenant.slug }),
    );
    unit.record(tenant.id, vec![event]).await?;
    unit.commit().await?;
    Ok(tenant)
}

/// Creates a tenant for a caller with `admin`.
pub async fn create(session: &Session, slug: &str, name: Option<&str>) -> Result<Tenant> {
    let requester = session.authorize(Operation::CreateTenant)?;
    let s = session.services();
    let tenant = create_tenant(&s.store, &s.bus, slug, name, Acting::Key(requester)).await?;
    session.pin_primary();
    Ok(tenant)
}

/// The tenant the caller acts in.
pub async fn current(session: &Session) -> Result<Tenant> {
    let requester = session.requester()?;
    tenants::by_id(session.services().store.db(), requester.tenant)
        .await?
        .ok_or_else(|| Error::NotFound("the tenant no longer exists".into()))
}

//! Creating tenants, audited in the new tenant.

use entity::tenant;
use serde_json::json;

use crate::bus::Bus;
use crate::domain::event::NewResource;
use crate::domain::ids::TenantId;
use crate::error::Result;
use crate::store::{Store, tenants};

use super::self_audit::{Acting, self_audit};
use super::unit_of_work::UnitOfWork;

/// Creates a tenant, audited as `tenant.create` in it.
pub async fn create_tenant(
    store: &Store,
    bus: &Bus,
    slug: &str,
    name: Option<&str>,
    acting: Acting<'_>,
) -> Result<tenant::Model> {
    create_tenant_in(UnitOfWork::begin(store, bus).await?, slug, name, acting).await
}

/// Creates a tenant in the unit of work given (`UnitOfWork::begin_at` for a
/// history, as `seed --backdate` makes), audited as `tenant.create` in it.
pub async fn create_tenant_in(
    mut unit: UnitOfWork<'_>,
    slug: &str,
    name: Option<&str>,
    acting: Acting<'_>,
) -> Result<tenant::Model> {
    let tenant = tenants::insert(unit.txn(), slug, name.unwrap_or(slug), unit.now).await?;
    let tenant_id = TenantId(tenant.id);
    let mut event = self_audit(
        "tenant.create",
        &acting,
        NewResource { kind: "tenant".into(), external_id: tenant_id.to_string(), name: Some(tenant.name.clone()) },
        format!("Tenant `{}` created", tenant.slug),
        json!({ "slug": tenant.slug }),
    );
    event.occurred_at = event.occurred_at.min(unit.now);
    unit.record(tenant_id, vec![event]).await?;
    unit.commit().await?;
    Ok(tenant)
}

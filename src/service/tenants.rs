//! Creating tenants, audited in the new tenant.

use entity::tenant;
use serde_json::json;

use crate::bus::Bus;
use crate::domain::event::ResourceSpec;
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
    let mut unit = UnitOfWork::begin(store, bus).await?;
    let tenant = tenants::insert(unit.txn(), slug, name.unwrap_or(slug), unit.now).await?;
    let tenant_id = TenantId(tenant.id);
    let event = self_audit(
        "tenant.create",
        &acting,
        ResourceSpec { kind: "tenant".into(), external_id: tenant_id.to_string(), name: Some(tenant.name.clone()) },
        format!("Tenant `{}` created", tenant.slug),
        json!({ "slug": tenant.slug }),
    );
    unit.record(tenant_id, vec![event]).await?;
    unit.commit().await?;
    Ok(tenant)
}

//! Actors and resources alike: rows created on first sight, keyed in their
//! tenant by (type, external ID), updated by later recordings, looked up by ID,
//! listed in keyset pages and counted. What differs between the two is an
//! [`Identity`], in `actors.rs` and `resources.rs`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::Hash;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{ArrayType, Condition, Expr, ExprTrait, Query, SimpleExpr};
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel, QueryFilter, QueryTrait};
use uuid::Uuid;

use crate::domain::ids::TenantId;
use crate::domain::page::{Page, PageResult};
use crate::error::{Error, Result};

use super::keyset::Keyset;

/// Rows per insert (9 parameters each, well under every backend's limit), and
/// external IDs per look-up on SQLite (PostgreSQL takes them as one array).
const CHUNK: usize = 500;

/// One kind of identity row: its table, its key columns and how a spec (how
/// an event names one) becomes or changes a row.
pub trait Identity {
    type Entity: EntityTrait<Model = Self::Model, Column = Self::Column>;
    type Model: Clone + serde::Serialize + IntoActiveModel<<Self::Entity as EntityTrait>::ActiveModel>;
    type Column: ColumnTrait;
    /// How an event names one.
    type Spec: Clone;
    /// Its identity in a tenant: (type, external ID).
    type Key: Clone + Eq + Hash + Ord;
    /// What lists of them are filtered by.
    type Match;
    /// What the rest of the server sees of a row.
    type Record;

    /// For errors: `an actor`, `a resource`.
    const NOUN: &'static str;
    const ID: Self::Column;
    const TENANT_ID: Self::Column;
    const KIND: Self::Column;
    const EXTERNAL_ID: Self::Column;
    const UPDATED_AT: Self::Column;

    fn key(spec: &Self::Spec) -> Self::Key;
    /// A stored row's identity; `None` for one this version cannot read.
    fn row_key(row: &Self::Model) -> Option<Self::Key>;
    fn external_id(key: &Self::Key) -> &str;
    fn id(row: &Self::Model) -> Uuid;
    /// Folds a later mention into an earlier one: a field it sets wins, a
    /// field it omits keeps the earlier value.
    fn merge(earlier: &mut Self::Spec, later: &Self::Spec);
    /// A new row, with a new ID.
    fn new_row(tenant: TenantId, spec: &Self::Spec, now: DateTime<Utc>) -> Self::Model;
    /// The columns to set on a stored row: the fields the spec sets to something else.
    fn changes(spec: &Self::Spec, row: &Self::Model) -> Vec<(Self::Column, SimpleExpr)>;
    /// The SQL condition of a [`Self::Match`].
    fn matching(m: &Self::Match) -> Condition;
    /// A stored row as the domain's record.
    fn record(row: Self::Model) -> Self::Record;
}

/// Creates or updates the identities (later specs win field by field; omitted
/// fields keep their stored value) and returns each one's ID. Reads first: one
/// that exists unchanged, the usual case, costs no write and no row lock, so
/// concurrent batches naming the same ones do not queue behind each other.
pub async fn upsert<I: Identity>(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    specs: Vec<&I::Spec>,
    now: DateTime<Utc>,
) -> Result<HashMap<I::Key, Uuid>> {
    let wanted = merge::<I>(specs);
    let mut stored = stored::<I>(db, tenant, wanted.keys().map(|k| I::external_id(k).to_string()).collect()).await?;

    let new: Vec<(&I::Key, &I::Spec)> = wanted.iter().filter(|(key, _)| !stored.contains_key(key)).collect();
    let mut raced = Vec::new();
    for chunk in new.chunks(CHUNK) {
        let mut inserted = insert::<I>(db, tenant, chunk, now).await?;
        for (key, _) in chunk {
            match inserted.remove(*key) {
                Some(row) => {
                    stored.insert((*key).clone(), row);
                }
                // Created meanwhile by a concurrent batch: read it back below.
                None => raced.push(I::external_id(key).to_string()),
            }
        }
    }
    if !raced.is_empty() {
        stored.extend(self::stored::<I>(db, tenant, raced).await?);
    }

    let mut ids = HashMap::with_capacity(wanted.len());
    for (key, spec) in &wanted {
        let row =
            stored.get(key).ok_or_else(|| Error::internal(format!("{} was neither found nor created", I::NOUN)))?;
        let changes = I::changes(spec, row);
        if !changes.is_empty() {
            let mut update = I::Entity::update_many().filter(I::ID.eq(I::id(row)));
            for (column, value) in changes {
                update = update.col_expr(column, value);
            }
            update.col_expr(I::UPDATED_AT, Expr::val(now)).exec(db).await?;
        }
        ids.insert(key.clone(), I::id(row));
    }
    Ok(ids)
}

/// Merges repeated mentions in recording order, in a stable order of keys so
/// that concurrent batches touch rows in the same order.
fn merge<I: Identity>(specs: Vec<&I::Spec>) -> BTreeMap<I::Key, I::Spec> {
    let mut merged = BTreeMap::new();
    for spec in specs {
        merged
            .entry(I::key(spec))
            .and_modify(|seen: &mut I::Spec| I::merge(seen, spec))
            .or_insert_with(|| spec.clone());
    }
    merged
}

/// The tenant's rows with these external IDs, by identity.
async fn stored<I: Identity>(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    external_ids: Vec<String>,
) -> Result<HashMap<I::Key, I::Model>> {
    let backend = db.get_database_backend();
    let mut found = HashMap::new();
    // One array parameter on PostgreSQL; SQLite binds each value.
    let size = if backend == DbBackend::Postgres { external_ids.len().max(1) } else { CHUNK };
    for chunk in external_ids.chunks(size) {
        let rows = I::Entity::find()
            .filter(I::TENANT_ID.eq(tenant.0))
            .filter(super::sql::any_of(backend, I::EXTERNAL_ID, chunk.to_vec(), ArrayType::String))
            .all(db)
            .await?;
        found.extend(rows.into_iter().filter_map(|row| I::row_key(&row).map(|key| (key, row))));
    }
    Ok(found)
}

/// Inserts new rows; one created meanwhile by another batch is skipped (and
/// absent from the result).
async fn insert<I: Identity>(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    specs: &[(&I::Key, &I::Spec)],
    now: DateTime<Utc>,
) -> Result<HashMap<I::Key, I::Model>> {
    let rows: Vec<I::Model> = specs.iter().map(|(_, spec)| I::new_row(tenant, spec, now)).collect();
    let identity = [I::TENANT_ID, I::KIND, I::EXTERNAL_ID];
    let created: HashSet<Uuid> =
        super::sql::insert_skipping_conflicts::<I::Entity>(db, &rows, &identity).await?.into_iter().collect();
    Ok(rows
        .into_iter()
        .filter(|row| created.contains(&I::id(row)))
        .filter_map(|row| I::row_key(&row).map(|key| (key, row)))
        .collect())
}

/// The rows with these IDs in the tenant (missing ones are absent).
pub async fn by_ids<I: Identity>(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    ids: Vec<Uuid>,
) -> Result<Vec<I::Record>> {
    Ok(I::Entity::find()
        .filter(I::TENANT_ID.eq(tenant.0))
        .filter(super::sql::any_of(db.get_database_backend(), I::ID, ids, ArrayType::Uuid))
        .all(db)
        .await?
        .into_iter()
        .map(I::record)
        .collect())
}

/// A page of the tenant's rows matching `m`, in ID (creation) order.
pub async fn page<I: Identity>(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    m: &I::Match,
    page: &Page<Uuid>,
) -> Result<PageResult<I::Record>> {
    let mut select = I::Entity::find().filter(I::TENANT_ID.eq(tenant.0)).filter(I::matching(m));
    Keyset::new([I::ID], true)
        .narrow(QueryTrait::query(&mut select), I::Entity::default(), page, |&id| vec![Expr::val(id)]);
    Ok(page.finish(select.all(db).await?.into_iter().map(I::record).collect()))
}

/// How many of the tenant's rows match `m`.
pub async fn count<I: Identity>(db: &impl ConnectionTrait, tenant: TenantId, m: &I::Match) -> Result<i64> {
    let query = Query::select()
        .expr(Expr::col(I::ID).count())
        .from(I::Entity::default())
        .and_where(Expr::col(I::TENANT_ID).eq(tenant.0))
        .cond_where(I::matching(m))
        .to_owned();
    super::sql::count(db, &query).await
}

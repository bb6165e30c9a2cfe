//! The tenants' Merkle trees in the database: the head (whose row lock orders
//! a tenant's commits), the stored hashes proofs are built from, persisted
//! checkpoints, and the signing key the server generated when it was given none.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{ledger_checkpoint as checkpoint, ledger_hash, ledger_head as head, signing_key};
use sea_orm::sea_query::{ArrayType, Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement};

use crate::domain::ids::TenantId;
use crate::error::{Error, Result};
use crate::ledger::{Frontier, Hash};

/// Rows per insert of stored hashes on SQLite (3 parameters each).
const HASH_CHUNK: usize = 5_000;

/// A tenant's tree as of its head row.
pub struct Head {
    pub frontier: Frontier,
}

impl Head {
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }
}

fn decode_head(row: head::Model) -> Result<Head> {
    let size = u64::try_from(row.size).map_err(Error::internal)?;
    Ok(Head { frontier: Frontier::from_bytes(size, &row.frontier).map_err(Error::internal)? })
}

/// Creates the empty tree of a new tenant.
#[tracing::instrument(name = "db.ledger.create", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn create(db: &impl ConnectionTrait, tenant: TenantId, now: DateTime<Utc>) -> Result<()> {
    let row = head::ActiveModel {
        tenant_id: sea_orm::ActiveValue::Set(tenant.0),
        size: sea_orm::ActiveValue::Set(0),
        frontier: sea_orm::ActiveValue::Set(Vec::new()),
        updated_at: sea_orm::ActiveValue::Set(now),
    };
    head::Entity::insert(row)
        .on_conflict(OnConflict::column(head::Column::TenantId).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The tenant's head, locked until the transaction ends: on PostgreSQL a row
/// lock, so the tenant's writers assign sequence numbers one after the other,
/// in commit order, whichever replica they run on. (SQLite's writers are
/// already serialised by the write gate.)
#[tracing::instrument(name = "db.ledger.lock_head", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn lock_head(db: &impl ConnectionTrait, tenant: TenantId) -> Result<Head> {
    let mut query = head::Entity::find_by_id(tenant.0);
    if db.get_database_backend() == DbBackend::Postgres {
        query = query.lock_exclusive();
    }
    let row = query.one(db).await?.ok_or_else(|| Error::internal(format!("tenant {tenant} has no ledger head")))?;
    decode_head(row)
}

/// The tenant's head as last committed.
#[tracing::instrument(name = "db.ledger.head", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn head(db: &impl ConnectionTrait, tenant: TenantId) -> Result<Head> {
    let row = head::Entity::find_by_id(tenant.0)
        .one(db)
        .await?
        .ok_or_else(|| Error::internal(format!("tenant {tenant} has no ledger head")))?;
    decode_head(row)
}

/// Every tenant's head (for the checkpoint job).
#[tracing::instrument(name = "db.ledger.heads", skip_all, err(Debug))]
pub async fn heads(db: &impl ConnectionTrait) -> Result<Vec<(TenantId, Head)>> {
    head::Entity::find()
        .order_by_asc(head::Column::TenantId)
        .all(db)
        .await?
        .into_iter()
        .map(|row| Ok((TenantId(row.tenant_id), decode_head(row)?)))
        .collect()
}

/// Stores the grown head, inside the transaction that locked it.
#[tracing::instrument(name = "db.ledger.save_head", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn save_head(db: &impl ConnectionTrait, tenant: TenantId, head: &Head, now: DateTime<Utc>) -> Result<()> {
    head::Entity::update_many()
        .col_expr(head::Column::Size, Expr::val(head.size() as i64))
        .col_expr(head::Column::Frontier, Expr::val(head.frontier.to_bytes()))
        .col_expr(head::Column::UpdatedAt, Expr::val(now))
        .filter(head::Column::TenantId.eq(tenant.0))
        .exec(db)
        .await?;
    Ok(())
}

/// Appends stored events, which must carry the next sequence numbers in
/// order, to the locked head: their leaves, the tree hashes they complete, and
/// the grown head. The catch-up of older events grows the tree through here,
/// the recording transaction through [`append_leaves`].
pub async fn append_events(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    head: &mut Head,
    rows: &[crate::domain::stored_event::StoredEvent],
    now: DateTime<Utc>,
) -> Result<()> {
    for (n, row) in rows.iter().enumerate() {
        if row.sequence as u64 != head.size() + 1 + n as u64 {
            return Err(Error::internal(format!("{tenant}: sequence {} is missing", head.size() + 1 + n as u64)));
        }
    }
    let leaves: Vec<Hash> = rows.iter().map(crate::ledger::event::hash).collect();
    append_leaves(db, tenant, head, &leaves, now).await
}

/// Appends the leaf hashes of the events that take the next sequence numbers
/// to the locked head: the tree hashes they complete, and the grown head.
#[tracing::instrument(name = "db.ledger.append_leaves", skip_all, fields(tenant = %tenant, n = leaves.len()), err(Debug))]
pub async fn append_leaves(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    head: &mut Head,
    leaves: &[Hash],
    now: DateTime<Utc>,
) -> Result<()> {
    if leaves.is_empty() {
        return Ok(());
    }
    let mut hashes = Vec::with_capacity(leaves.len() * 2);
    for leaf in leaves {
        hashes.extend(head.frontier.append(*leaf));
    }
    if !cfg!(feature = "bench-without-ledger") {
        insert_hashes(db, tenant, &hashes).await?;
    }
    save_head(db, tenant, head, now).await
}

/// Stores new hashes of the tree: PostgreSQL gets two array parameters, so the
/// statement stays one prepared statement whatever the batch size.
#[tracing::instrument(name = "db.ledger.insert_hashes", skip_all, fields(tenant = %tenant, n = hashes.len()), err(Debug))]
pub async fn insert_hashes(db: &impl ConnectionTrait, tenant: TenantId, hashes: &[(u64, Hash)]) -> Result<()> {
    if hashes.is_empty() {
        return Ok(());
    }
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let indexes: Vec<sea_orm::Value> = hashes.iter().map(|(i, _)| (*i as i64).into()).collect();
            let values: Vec<sea_orm::Value> = hashes.iter().map(|(_, h)| h.to_vec().into()).collect();
            db.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO ledger_hash (tenant_id, idx, hash) SELECT $1, i, h FROM unnest($2::bigint[], $3::bytea[]) AS t(i, h)",
                [
                    tenant.0.into(),
                    sea_orm::Value::Array(ArrayType::BigInt, Some(Box::new(indexes))),
                    sea_orm::Value::Array(ArrayType::Bytes, Some(Box::new(values))),
                ],
            ))
            .await?;
        }
        backend => {
            use ledger_hash::Column as C;
            for chunk in hashes.chunks(HASH_CHUNK) {
                let mut insert = Query::insert();
                insert.into_table(ledger_hash::Entity).columns([C::TenantId, C::Idx, C::Hash]);
                for (i, h) in chunk {
                    insert.values_panic([tenant.0.into(), (*i as i64).into(), h.to_vec().into()]);
                }
                db.execute_raw(backend.build(&insert)).await?;
            }
        }
    }
    Ok(())
}

/// The stored hashes at these indexes, in one statement (a missing one is
/// absent from the map: proofs report it, `verify` names it).
#[tracing::instrument(name = "db.ledger.read_hashes", skip_all, fields(tenant = %tenant, n = indexes.len()), err(Debug))]
pub async fn read_hashes(db: &impl ConnectionTrait, tenant: TenantId, indexes: &[u64]) -> Result<HashMap<u64, Hash>> {
    if indexes.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = ledger_hash::Entity::find()
        .filter(ledger_hash::Column::TenantId.eq(tenant.0))
        .filter(super::sql::any_of(
            db.get_database_backend(),
            ledger_hash::Column::Idx,
            indexes.iter().map(|&i| i as i64).collect(),
            ArrayType::BigInt,
        ))
        .all(db)
        .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for row in rows {
        let hash: Hash =
            row.hash.as_slice().try_into().map_err(|_| Error::internal("a stored hash is not 32 bytes"))?;
        out.insert(row.idx as u64, hash);
    }
    Ok(out)
}

/// Persists a checkpoint (once per size: a second one for the same size is the same tree).
#[tracing::instrument(name = "db.ledger.insert_checkpoint", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn insert_checkpoint(db: &impl ConnectionTrait, tenant: TenantId, row: checkpoint::Model) -> Result<()> {
    let row = checkpoint::ActiveModel {
        tenant_id: sea_orm::ActiveValue::Set(tenant.0),
        size: sea_orm::ActiveValue::Set(row.size),
        root_hash: sea_orm::ActiveValue::Set(row.root_hash),
        signed_note: sea_orm::ActiveValue::Set(row.signed_note),
        issued_at: sea_orm::ActiveValue::Set(row.issued_at),
    };
    checkpoint::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([checkpoint::Column::TenantId, checkpoint::Column::Size]).do_nothing().to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The size of the newest persisted checkpoint of every tenant that has one.
#[tracing::instrument(name = "db.ledger.checkpointed_sizes", skip_all, err(Debug))]
pub async fn checkpointed_sizes(db: &impl ConnectionTrait) -> Result<HashMap<TenantId, u64>> {
    let rows: Vec<(uuid::Uuid, Option<i64>)> = checkpoint::Entity::find()
        .select_only()
        .column(checkpoint::Column::TenantId)
        .column_as(checkpoint::Column::Size.max(), "size")
        .group_by(checkpoint::Column::TenantId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(t, s)| (TenantId(t), s.unwrap_or(0) as u64)).collect())
}

/// The persisted checkpoint of this size, if any.
#[tracing::instrument(name = "db.ledger.checkpoint_at", skip_all, fields(tenant = %tenant, size), err(Debug))]
pub async fn checkpoint_at(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    size: u64,
) -> Result<Option<checkpoint::Model>> {
    Ok(checkpoint::Entity::find_by_id((tenant.0, size as i64)).one(db).await?)
}

/// A page of persisted checkpoints, newest first: `after`/`before` are sizes.
#[tracing::instrument(name = "db.ledger.checkpoints", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn checkpoints(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    page: &crate::domain::page::Page<i64>,
) -> Result<crate::domain::page::PageResult<checkpoint::Model>> {
    let mut query = checkpoint::Entity::find().filter(checkpoint::Column::TenantId.eq(tenant.0));
    if let Some(after) = page.after {
        query = query.filter(checkpoint::Column::Size.lt(after));
    }
    if let Some(before) = page.before {
        query = query.filter(checkpoint::Column::Size.gt(before));
    }
    // Newest first; a backward page walks oldest first, then flips.
    query = if page.backward {
        query.order_by_asc(checkpoint::Column::Size)
    } else {
        query.order_by_desc(checkpoint::Column::Size)
    };
    let rows = query.limit(page.fetch_limit()).all(db).await?;
    Ok(page.finish(rows))
}

/// How many checkpoints the tenant has.
#[tracing::instrument(name = "db.ledger.count_checkpoints", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn count_checkpoints(db: &impl ConnectionTrait, tenant: TenantId) -> Result<i64> {
    let query = Query::select()
        .expr(Expr::cust("COUNT(*)"))
        .from(checkpoint::Entity)
        .and_where(Expr::col(checkpoint::Column::TenantId).eq(tenant.0))
        .to_owned();
    super::sql::count(db, &query).await
}

/// Every persisted checkpoint of the tenant, oldest first (for `verify`).
#[tracing::instrument(name = "db.ledger.all_checkpoints", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn all_checkpoints(db: &impl ConnectionTrait, tenant: TenantId) -> Result<Vec<checkpoint::Model>> {
    Ok(checkpoint::Entity::find()
        .filter(checkpoint::Column::TenantId.eq(tenant.0))
        .order_by_asc(checkpoint::Column::Size)
        .all(db)
        .await?)
}

/// The key the server generated earlier, if any.
#[tracing::instrument(name = "db.ledger.generated_key", skip_all, err(Debug))]
pub async fn generated_key(db: &impl ConnectionTrait) -> Result<Option<signing_key::Model>> {
    Ok(signing_key::Entity::find().order_by_asc(signing_key::Column::CreatedAt).one(db).await?)
}

/// Keeps a generated key; when two servers race, the first one stored wins.
#[tracing::instrument(name = "db.ledger.store_generated_key", skip_all, err(Debug))]
pub async fn store_generated_key(
    db: &impl ConnectionTrait,
    name: &str,
    private_key: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let row = signing_key::ActiveModel {
        name: sea_orm::ActiveValue::Set(name.to_string()),
        private_key: sea_orm::ActiveValue::Set(private_key.to_string()),
        created_at: sea_orm::ActiveValue::Set(now),
    };
    signing_key::Entity::insert(row)
        .on_conflict(OnConflict::column(signing_key::Column::Name).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The highest sequence stored for the tenant (0 when none).
#[tracing::instrument(name = "db.ledger.max_sequence", skip_all, fields(tenant = %tenant), err(Debug))]
pub async fn max_sequence(db: &impl ConnectionTrait, tenant: TenantId) -> Result<u64> {
    use entity::audit_event as ev;
    let query = Query::select()
        .expr(Expr::col(ev::Column::Sequence).max())
        .from(ev::Entity)
        .and_where(Expr::col(ev::Column::TenantId).eq(tenant.0))
        .to_owned();
    let row = db.query_one(&query).await?;
    Ok(row.and_then(|r| r.try_get_by_index::<Option<i64>>(0).ok().flatten()).unwrap_or(0) as u64)
}

//! SQL helpers every store module shares: lists as one array parameter,
//! bulk inserts as one JSON parameter, counts, and telling a lost insert race.

use sea_orm::sea_query::extension::postgres::PgFunc;
use sea_orm::sea_query::{Expr, ExprTrait, IntoColumnRef, SimpleExpr};
use sea_orm::{ConnectionTrait, DbBackend, Value};

/// Whether an error is a unique-constraint violation (a lost race on insert).
pub fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(err.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))
}

/// `col IN (values)`. On PostgreSQL it is `col = ANY($1)` with one array
/// parameter, so the statement text, and the prepared statement PostgreSQL
/// keeps for it, is the same however many values there are.
pub(crate) fn any_of<C, V>(
    backend: DbBackend,
    col: C,
    values: Vec<V>,
    array: sea_orm::sea_query::ArrayType,
) -> SimpleExpr
where
    C: IntoColumnRef,
    V: Into<Value>,
{
    match backend {
        DbBackend::Postgres => {
            let values: Vec<Value> = values.into_iter().map(Into::into).collect();
            Expr::col(col).eq(PgFunc::any(Expr::val(Value::Array(array, Some(Box::new(values))))))
        }
        _ => Expr::col(col).is_in(values),
    }
}

/// A PostgreSQL `INSERT INTO table … suffix` whose rows arrive as one JSON
/// parameter, expanded by `json_populate_recordset`: the text, and so the
/// prepared statement, is the same for any number of rows, instead of
/// thousands of placeholders parsed and planned on every call.
pub(crate) fn populate<M: serde::Serialize>(
    table: &str,
    rows: &[M],
    suffix: &str,
) -> crate::error::Result<sea_orm::Statement> {
    let json = serde_json::to_string(rows).map_err(crate::error::Error::internal)?;
    Ok(sea_orm::Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("INSERT INTO {table} SELECT * FROM json_populate_recordset(NULL::{table}, $1::json) {suffix}"),
        [json.into()],
    ))
}

/// Inserts `rows` of entity `E`, skipping any that conflict on `conflict`, and
/// returns the `id` of each row inserted. PostgreSQL gets the rows as one JSON
/// parameter ([`populate`]); SQLite a multi-row `INSERT … VALUES`.
pub(crate) async fn insert_skipping_conflicts<E>(
    db: &impl ConnectionTrait,
    rows: &[E::Model],
    conflict: &[E::Column],
) -> crate::error::Result<Vec<uuid::Uuid>>
where
    E: sea_orm::EntityTrait,
    E::Model: serde::Serialize + sea_orm::IntoActiveModel<E::ActiveModel>,
{
    use sea_orm::{ActiveModelTrait, IdenStatic, IntoActiveModel, Iterable};
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let statement = match db.get_database_backend() {
        DbBackend::Postgres => {
            let target: Vec<&str> = conflict.iter().map(|c| c.as_str()).collect();
            let suffix = format!("ON CONFLICT ({}) DO NOTHING RETURNING id", target.join(", "));
            populate(E::default().table_name(), rows, &suffix)?
        }
        backend => {
            let mut insert = sea_orm::sea_query::Query::insert();
            insert.into_table(E::default()).columns(E::Column::iter());
            for row in rows {
                let row = row.clone().into_active_model();
                insert.values_panic(
                    E::Column::iter().map(|c| row.get(c).into_value().map_or_else(|| Expr::cust("NULL"), Expr::val)),
                );
            }
            insert
                .on_conflict(sea_orm::sea_query::OnConflict::columns(conflict.iter().copied()).do_nothing().to_owned())
                .returning_col(sea_orm::sea_query::Alias::new("id"));
            backend.build(&insert)
        }
    };
    populate_returning_ids(db, statement).await
}

/// Runs a `populate` statement that returns `id`, and collects the IDs.
pub(crate) async fn populate_returning_ids(
    db: &impl ConnectionTrait,
    statement: sea_orm::Statement,
) -> crate::error::Result<Vec<uuid::Uuid>> {
    let mut ids = Vec::new();
    for row in db.query_all_raw(statement).await? {
        ids.push(row.try_get::<uuid::Uuid>("", "id")?);
    }
    Ok(ids)
}

/// Runs a `SELECT COUNT(…)` and returns the number.
pub(crate) async fn count(
    db: &impl ConnectionTrait,
    query: &sea_orm::sea_query::SelectStatement,
) -> crate::error::Result<i64> {
    let row = db.query_one(query).await?;
    Ok(row.map(|r| r.try_get_by_index::<i64>(0)).transpose()?.unwrap_or(0))
}
/// A statement with its `LIMIT`s written into the text instead of bound.
/// PostgreSQL keeps one generic plan for a prepared statement once it costs no
/// more than planning it afresh; with a bound LIMIT the planner must assume a
/// tenth of the table, so a page statement was re-planned on every execution,
/// and on the partitioned tables planning cost more than running it. A page's
/// limit takes a few values only (sizes 1 to 501), so the texts stay few.
/// Other backends are left as they are.
pub(crate) fn with_literal_limits(statement: sea_orm::Statement) -> sea_orm::Statement {
    let (Some(values), DbBackend::Postgres) = (&statement.values, statement.db_backend) else {
        return statement;
    };
    let literal = |value: &Value| match value {
        Value::BigUnsigned(Some(n)) => Some(n.to_string()),
        Value::BigInt(Some(n)) => Some(n.to_string()),
        _ => None,
    };
    let mut sql = String::with_capacity(statement.sql.len());
    let mut kept = Vec::with_capacity(values.0.len());
    let mut rest = statement.sql.as_str();
    // sea-query writes a value as `$n` and nothing else with a `$`: no string
    // of ours holds one, and callers' strings are always bound.
    while let Some(at) = rest.find('$') {
        let digits = rest[at + 1..].bytes().take_while(u8::is_ascii_digit).count();
        let number = rest[at + 1..at + 1 + digits].parse::<usize>().ok();
        let Some(value) = number.and_then(|n| n.checked_sub(1)).and_then(|i| values.0.get(i)) else {
            sql.push_str(&rest[..=at]);
            rest = &rest[at + 1..];
            continue;
        };
        sql.push_str(&rest[..at]);
        match literal(value).filter(|_| sql.ends_with(" LIMIT ")) {
            Some(limit) => sql.push_str(&limit),
            None => {
                kept.push(value.clone());
                sql.push_str(&format!("${}", kept.len()));
            }
        }
        rest = &rest[at + 1 + digits..];
    }
    sql.push_str(rest);
    sea_orm::Statement::from_sql_and_values(DbBackend::Postgres, sql, kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::sea_query::{Alias, Query};

    #[test]
    fn limits_are_written_in_and_the_rest_renumbered() {
        let t = Alias::new("t");
        let mut inner = Query::select();
        inner.column((t.clone(), Alias::new("id"))).from(t.clone());
        inner.and_where(Expr::col(Alias::new("tenant_id")).eq("x")).limit(51);
        let mut outer = Query::select();
        outer.column(Alias::new("id")).from_subquery(inner, Alias::new("p"));
        outer.and_where(Expr::col(Alias::new("name")).eq("$1 LIMIT ")).limit(7);
        let statement = with_literal_limits(DbBackend::Postgres.build(&outer));
        assert_eq!(
            statement.sql,
            r#"SELECT "id" FROM (SELECT "t"."id" FROM "t" WHERE "tenant_id" = $1 LIMIT 51) AS "p" WHERE "name" = $2 LIMIT 7"#
        );
        let values = statement.values.unwrap().0;
        assert_eq!(values, vec![Value::from("x"), Value::from("$1 LIMIT ")]);
        // SQLite keeps its statement as built.
        let sqlite = DbBackend::Sqlite.build(&outer);
        assert_eq!(with_literal_limits(sqlite.clone()).sql, sqlite.sql);
    }
}

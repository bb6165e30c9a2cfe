//! `metadata` and `changes` conditions → SQL: SQLite's JSON functions and
//! PostgreSQL's `jsonb` operators, comparing by JSON type as the contract
//! says. Every condition is two-valued (never SQL NULL), like the rest of
//! `store::filter`.

use entity::audit_event as ev;
use sea_orm::DbBackend;
use sea_orm::sea_query::{Alias, BinOper, Condition, Expr, ExprTrait, Func, Query, SimpleExpr};
use serde_json::Value;

use crate::domain::filter::StrTest;
use crate::domain::json_condition::{Bound, Comparison, JsonCondition, JsonTest, is_index};

fn never() -> SimpleExpr {
    Expr::cust("1 = 0")
}

fn always() -> SimpleExpr {
    Expr::cust("1 = 1")
}

/// False where `test` would be SQL NULL.
fn two_valued(test: SimpleExpr) -> SimpleExpr {
    Func::coalesce([test, never()]).into()
}

/// The JSON at `path` in the event's metadata, SQL NULL when absent.
/// SQLite: JSON text (`->`); PostgreSQL: `jsonb` (`#>`, whose integer
/// segments index arrays and name keys of objects, as the contract wants).
fn at_path(path: &[String], backend: DbBackend) -> SimpleExpr {
    let metadata = Expr::col((ev::Entity, ev::Column::Metadata));
    if backend == DbBackend::Postgres {
        let literal = format!("{{{}}}", path.join(","));
        return metadata.binary(BinOper::Custom("#>"), Func::cast_as(Expr::val(literal), "text[]"));
    }
    let step = |json: SimpleExpr, key: &str| json.binary(BinOper::Custom("->"), Expr::val(format!("$.\"{key}\"")));
    let mut json = step(metadata, &path[0]);
    for segment in &path[1..] {
        json = if is_index(segment) {
            // One of the two is absent: an array has no keys, an object no indexes.
            Func::coalesce([
                json.clone().binary(BinOper::Custom("->"), Expr::val(format!("$[{segment}]"))),
                step(json, segment),
            ])
            .into()
        } else {
            step(json, segment)
        };
    }
    json
}

/// The JSON type of a value at a path, in the backend's words.
fn json_type(json: SimpleExpr, backend: DbBackend) -> SimpleExpr {
    match backend {
        DbBackend::Postgres => Func::cust("jsonb_typeof").arg(json).into(),
        _ => Func::cust("json_type").arg(json).into(),
    }
}

/// Whether a type from [`json_type`] is the given JSON type.
fn is_type(json: SimpleExpr, kind: &str, backend: DbBackend) -> SimpleExpr {
    let t = json_type(json, backend);
    match (backend, kind) {
        (DbBackend::Postgres, kind) => t.eq(kind),
        (_, "number") => t.is_in(["integer", "real"]),
        (_, "string") => t.eq("text"),
        (_, "boolean") => t.is_in(["true", "false"]),
        (_, kind) => t.eq(kind),
    }
}

/// A string or number at a path as an SQL value.
fn sql_value(json: SimpleExpr, backend: DbBackend) -> SimpleExpr {
    match backend {
        DbBackend::Postgres => json.binary(BinOper::Custom("#>>"), Func::cast_as(Expr::val("{}"), "text[]")),
        _ => Func::cust("json_extract").arg(json).arg("$").into(),
    }
}

fn number(n: &serde_json::Number) -> SimpleExpr {
    match (n.as_i64(), n.as_f64()) {
        (Some(i), _) => Expr::val(i),
        (None, Some(f)) => Expr::val(f),
        _ => Expr::val(n.to_string()),
    }
}

/// The value at a path equals `value` by type and value.
fn equals(json: SimpleExpr, value: &Value, backend: DbBackend) -> SimpleExpr {
    if backend == DbBackend::Postgres {
        // `jsonb` equality compares numbers numerically and containers structurally.
        return json.eq(Func::cast_as(Expr::val(value.to_string()), "jsonb"));
    }
    let sqlite_type = |t: &'static str| json_type(json.clone(), backend).eq(t);
    match value {
        Value::Null => sqlite_type("null"),
        Value::Bool(true) => sqlite_type("true"),
        Value::Bool(false) => sqlite_type("false"),
        Value::Number(n) => is_type(json.clone(), "number", backend).and(sql_value(json, backend).eq(number(n))),
        Value::String(s) => is_type(json.clone(), "string", backend).and(sql_value(json, backend).eq(s.as_str())),
        // Stored objects have their keys sorted (as serde_json writes them),
        // and `->` writes JSON minified, as `json()` does the value.
        Value::Array(_) => sqlite_type("array").and(json.eq(Func::cust("json").arg(value.to_string()))),
        Value::Object(_) => sqlite_type("object").and(json.eq(Func::cust("json").arg(value.to_string()))),
    }
}

fn compare(left: SimpleExpr, cmp: Comparison, right: SimpleExpr) -> SimpleExpr {
    match cmp {
        Comparison::Gt => left.gt(right),
        Comparison::Gte => left.gte(right),
        Comparison::Lt => left.lt(right),
        Comparison::Lte => left.lte(right),
    }
}

fn range(json: SimpleExpr, cmp: Comparison, bound: &Bound, backend: DbBackend) -> SimpleExpr {
    match (bound, backend) {
        (Bound::Number(n), DbBackend::Postgres) => {
            // The cast is only reached for numbers.
            let value = Func::cast_as(json.clone(), "numeric");
            let bound = Func::cast_as(Expr::val(n.to_string()), "numeric");
            Expr::case(is_type(json, "number", backend), compare(value.into(), cmp, bound.into()))
                .finally(never())
                .into()
        }
        (Bound::Number(n), _) => {
            is_type(json.clone(), "number", backend).and(compare(sql_value(json, backend), cmp, number(n)))
        }
        (Bound::String(s), DbBackend::Postgres) => {
            // Code point order is byte order, whatever the database's collation.
            let value = Expr::cust_with_expr("($1 COLLATE \"C\")", sql_value(json.clone(), backend));
            is_type(json, "string", backend).and(compare(value, cmp, Expr::val(s.as_str())))
        }
        // SQLite's BINARY collation is byte order.
        (Bound::String(s), _) => {
            is_type(json.clone(), "string", backend).and(compare(sql_value(json, backend), cmp, Expr::val(s.as_str())))
        }
    }
}

/// A string expression starts with `prefix` (by characters on both backends).
pub fn starts_with(text: SimpleExpr, prefix: &str) -> SimpleExpr {
    // An `integer`, as PostgreSQL's `substr` wants (a `bigint` has no overload).
    let n = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
    Func::cust("substr").arg(text).arg(1).arg(n).eq(prefix)
}

/// PostgreSQL's `metadata @> {…}` for an equality on a path without array
/// indexes: implied by the equality, and served by the GIN index.
fn containment(path: &[String], value: &Value) -> Option<SimpleExpr> {
    if path.iter().any(|s| is_index(s)) {
        return None;
    }
    let doc = path.iter().rev().fold(value.clone(), |inner, key| serde_json::json!({ key.as_str(): inner }));
    Some(
        Expr::col((ev::Entity, ev::Column::Metadata))
            .binary(BinOper::Custom("@>"), Func::cast_as(Expr::val(doc.to_string()), "jsonb")),
    )
}

/// The SQL condition of one `JsonCondition`: every test holds.
pub fn condition(c: &JsonCondition, backend: DbBackend) -> SimpleExpr {
    let json = || at_path(&c.path, backend);
    let mut all = Condition::all();
    for test in &c.tests {
        let sql = match test {
            JsonTest::Exists(true) => json().is_not_null(),
            JsonTest::Exists(false) => json().is_null(),
            JsonTest::In(values) if values.is_empty() => never(),
            JsonTest::In(values) => {
                let exact = values.iter().fold(Condition::any(), |any, v| any.add(equals(json(), v, backend)));
                let exact = two_valued(exact.into());
                match backend {
                    DbBackend::Postgres => {
                        let hints: Option<Vec<SimpleExpr>> = values.iter().map(|v| containment(&c.path, v)).collect();
                        match hints {
                            Some(hints) => {
                                let any = hints.into_iter().fold(Condition::any(), |any, h| any.add(h));
                                Condition::all().add(any).add(exact).into()
                            }
                            None => exact,
                        }
                    }
                    _ => exact,
                }
            }
            JsonTest::Range(cmp, bound) => two_valued(range(json(), *cmp, bound, backend)),
            JsonTest::Prefix(p) => {
                two_valued(is_type(json(), "string", backend).and(starts_with(sql_value(json(), backend), p)))
            }
        };
        all = all.add(sql);
    }
    if all.is_empty() { always() } else { all.into() }
}

/// Some change of the event has a field passing every test.
pub fn changes(tests: &[StrTest], backend: DbBackend) -> SimpleExpr {
    let change = Alias::new("change");
    let (function, field) = match backend {
        DbBackend::Postgres => (
            "jsonb_array_elements",
            Expr::col((change.clone(), Alias::new("value"))).binary(BinOper::Custom("->>"), Expr::val("field")),
        ),
        _ => (
            "json_each",
            Func::cust("json_extract").arg(Expr::col((change.clone(), Alias::new("value")))).arg("$.field").into(),
        ),
    };
    let mut all = Condition::all();
    for test in tests {
        all = all.add(match test {
            StrTest::Eq(v) => field.clone().eq(v.as_str()),
            StrTest::In(vs) if vs.is_empty() => never(),
            StrTest::In(vs) => field.clone().is_in(vs.iter().map(String::as_str)),
            StrTest::Prefix(p) => starts_with(field.clone(), p),
            StrTest::NotIn(vs) if vs.is_empty() => always(),
            StrTest::NotIn(vs) => field.clone().is_not_in(vs.iter().map(String::as_str)),
        });
    }
    let mut query = Query::select();
    query
        .expr(Expr::val(1))
        .from_function(Func::cust(function).arg(Expr::col((ev::Entity, ev::Column::Changes))), change);
    if !all.is_empty() {
        query.cond_where(all);
    }
    Expr::exists(query.to_owned())
}

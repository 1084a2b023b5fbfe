//! The SQLite side of the database layer: rusqlite with cached statements.

use super::value::{Row, Value};
use crate::error::StoreError;
use crate::location::StoreName;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ErrorCode};

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Real(r) => ValueRef::Real(*r),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

fn value(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

/// Maps a rusqlite error to ours, naming the store and nothing else.
pub(crate) fn error(store: &StoreName, e: rusqlite::Error) -> StoreError {
    let store = store.clone();
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy { store },
        Some(ErrorCode::NotADatabase) => StoreError::Corrupt {
            store,
            detail: "not a SQLite database".to_string(),
        },
        Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
            store,
            detail: "the database disk image is malformed".to_string(),
        },
        _ => StoreError::Database {
            store,
            detail: e.to_string(),
        },
    }
}

pub(super) fn execute(conn: &Connection, sql: &str, params: &[Value]) -> rusqlite::Result<u64> {
    let mut stmt = conn.prepare_cached(sql)?;
    stmt.execute(rusqlite::params_from_iter(params))
        .map(|n| n as u64)
}

pub(super) fn query(
    conn: &Connection,
    store: &StoreName,
    sql: &str,
    params: &[Value],
) -> rusqlite::Result<Vec<Row>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let columns = stmt.column_count();
    let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let values = (0..columns)
            .map(|i| row.get_ref(i).map(value))
            .collect::<rusqlite::Result<Vec<Value>>>()?;
        out.push(Row::new(values, store.clone()));
    }
    Ok(out)
}

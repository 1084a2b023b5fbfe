//! Values crossing the database layer: parameters in, columns out, alike for both backends.

use crate::error::StoreError;
use crate::location::StoreName;

/// One parameter or column value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Int(_) => "an integer",
            Value::Real(_) => "a real",
            Value::Text(_) => "text",
            Value::Blob(_) => "a blob",
        }
    }
}

/// Anything that can be a query parameter; see the `params!` macro.
pub(crate) trait ToValue {
    fn to_value(&self) -> Value;
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToValue for std::borrow::Cow<'_, str> {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}

impl ToValue for i64 {
    fn to_value(&self) -> Value {
        Value::Int(*self)
    }
}

impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

/// Query parameters, for `?1, ?2…` in order: `params![project, path, 3_i64]`.
macro_rules! params {
    () => { &[] as &[$crate::db::Value] };
    ($($x:expr),+ $(,)?) => {
        &[$($crate::db::ToValue::to_value(&$x)),+] as &[$crate::db::Value]
    };
}
pub(crate) use params;

/// A column type a row can be read as.
pub(crate) trait FromValue: Sized {
    /// `None` when the value has another type.
    fn from_value(v: &Value) -> Option<Self>;
    const EXPECTED: &'static str;
}

impl FromValue for i64 {
    fn from_value(v: &Value) -> Option<i64> {
        match v {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
    const EXPECTED: &'static str = "an integer";
}

impl FromValue for f64 {
    /// Integers too: SQLite gives `COALESCE(SUM(x), 0)` of no rows as the integer 0.
    fn from_value(v: &Value) -> Option<f64> {
        match v {
            Value::Real(r) => Some(*r),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
    const EXPECTED: &'static str = "a real";
}

impl FromValue for bool {
    fn from_value(v: &Value) -> Option<bool> {
        i64::from_value(v).map(|i| i != 0)
    }
    const EXPECTED: &'static str = "a boolean";
}

impl FromValue for String {
    fn from_value(v: &Value) -> Option<String> {
        match v {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
    const EXPECTED: &'static str = "text";
}

impl FromValue for Vec<u8> {
    fn from_value(v: &Value) -> Option<Vec<u8>> {
        match v {
            Value::Blob(b) => Some(b.clone()),
            _ => None,
        }
    }
    const EXPECTED: &'static str = "a blob";
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Option<Option<T>> {
        match v {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
    const EXPECTED: &'static str = T::EXPECTED;
}

/// One result row, read by column index with typed getters.
#[derive(Debug)]
pub(crate) struct Row {
    values: Vec<Value>,
    store: StoreName,
}

impl Row {
    pub(crate) fn new(values: Vec<Value>, store: StoreName) -> Row {
        Row { values, store }
    }

    /// Column `i` as `T`; a missing column or another type is `Corrupt`.
    pub(crate) fn get<T: FromValue>(&self, i: usize) -> Result<T, StoreError> {
        let Some(v) = self.values.get(i) else {
            return Err(StoreError::Database {
                store: self.store.clone(),
                detail: format!("the query has no column {i}"),
            });
        };
        T::from_value(v).ok_or_else(|| StoreError::Corrupt {
            store: self.store.clone(),
            detail: format!("column {i} holds {}, expected {}", v.kind(), T::EXPECTED),
        })
    }
}

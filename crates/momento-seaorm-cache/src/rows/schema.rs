//! Integers as row-level invalidation reads them from bound values. Which columns are
//! integers, and which table's rows can be tracked at all, comes from the database's catalog
//! ([`crate::catalog`]), never from an entity: every process and deploy agrees on it.

use sea_orm::Value;

pub(crate) use crate::catalog::TableSchema;

/// An integer held by a bound value: `Ok(Some(n))`, `Ok(None)` for SQL `NULL`, `Err` for
/// anything else (a string, a float: compared by rules this crate does not model).
pub(crate) fn integer_value(value: &Value) -> Result<Option<i128>, ()> {
    Ok(match value {
        Value::TinyInt(v) => v.map(i128::from),
        Value::SmallInt(v) => v.map(i128::from),
        Value::Int(v) => v.map(i128::from),
        Value::BigInt(v) => v.map(i128::from),
        Value::TinyUnsigned(v) => v.map(i128::from),
        Value::SmallUnsigned(v) => v.map(i128::from),
        Value::Unsigned(v) => v.map(i128::from),
        Value::BigUnsigned(v) => v.map(i128::from),
        _ => return Err(()),
    })
}

/// The value `column` of a table with `schema` holds, as row scopes track it: `Ok(None)` for
/// SQL `NULL`, `Err` when it cannot be tracked.
#[allow(dead_code)] // change capture's, through row_change
pub(crate) fn tracked_value(
    schema: &TableSchema,
    column: &str,
    value: &Value,
) -> Result<Option<i128>, ()> {
    if !schema.is_integer(column) {
        return Err(());
    }
    integer_value(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_of_every_width_are_integers_and_others_are_not() {
        assert_eq!(integer_value(&Value::Int(Some(7))), Ok(Some(7)));
        assert_eq!(
            integer_value(&Value::BigUnsigned(Some(u64::MAX))),
            Ok(Some(u64::MAX as i128))
        );
        assert_eq!(integer_value(&Value::Int(None)), Ok(None));
        assert!(integer_value(&Value::String(Some("7".into()))).is_err());
        assert!(integer_value(&Value::Double(Some(7.0))).is_err());
    }
}

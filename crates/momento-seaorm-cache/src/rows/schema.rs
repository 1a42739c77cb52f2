//! Values as row-level invalidation reads them from bound values. Which columns are tracked
//! and how they compare, and which table's rows can be tracked at all, comes from the
//! database's catalog ([`crate::catalog`]), never from an entity: every process and deploy
//! agrees on it.

use sea_orm::Value;

use super::value::{canonical, RowValue};

pub(crate) use crate::catalog::TableSchema;

/// The value `column` of a table with `schema` holds, as row scopes track it: `Ok(None)` for
/// SQL `NULL`, `Err` when the column is not tracked or the value cannot be.
pub(crate) fn tracked_value(
    schema: &TableSchema,
    column: &str,
    value: &Value,
) -> Result<Option<RowValue>, ()> {
    canonical(schema.kind(column).ok_or(())?, value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Kind;

    #[test]
    fn integers_of_every_width_are_integers_and_others_are_not() {
        let schema = TableSchema {
            tracked: [("n".to_owned(), Kind::integer("bigint", true).unwrap())].into(),
            ..TableSchema::default()
        };
        let n = |v: &Value| tracked_value(&schema, "n", v);
        assert_eq!(n(&Value::Int(Some(7))), Ok(Some(RowValue::Int(7))));
        assert_eq!(
            n(&Value::BigUnsigned(Some(u64::MAX))),
            Ok(Some(RowValue::Int(u64::MAX as i128)))
        );
        assert_eq!(n(&Value::Int(None)), Ok(None));
        assert!(n(&Value::String(Some("7".into()))).is_err());
        assert!(n(&Value::Double(Some(7.0))).is_err());
        assert!(tracked_value(&schema, "m", &Value::Int(Some(7))).is_err());
    }
}

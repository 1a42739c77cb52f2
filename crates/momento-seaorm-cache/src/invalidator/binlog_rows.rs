//! The rows of MariaDB/MySQL `ROW` events as row images: a write event's after images, an
//! update's before and after, a delete's before (`binlog_row_image = FULL` logs every column;
//! `MINIMAL` or `NOBLOB` leave columns out, which then count as unknown).
//!
//! The binary log names no columns (unless `binlog_row_metadata = FULL`): a value is placed by
//! its position in the table, which the catalog ([`MyCatalog`](super::my_catalog)) gives as of
//! its last read. An event whose column count differs from it (DDL in between) shows no rows.
//! Without signedness metadata unsigned integers arrive as signed ones: they are taken back
//! into the column's range from the statement path's catalog.

use mysql_async::binlog::row::BinlogRow;
use mysql_async::binlog::value::BinlogValue;
use mysql_async::consts::ColumnType;
use mysql_async::Value as MyValue;
use sea_orm::Value;

use super::row_bumps::RowImage;
use crate::rows::TableSchema;

/// The known values of `row`, with `names` the table's columns in order (lower case) and
/// `schema` the table's schema; `None` when the row cannot be placed.
pub(crate) fn image(row: &BinlogRow, names: &[String], schema: &TableSchema) -> Option<RowImage> {
    let mut image = RowImage::new();
    for (at, column) in row.columns_ref().iter().enumerate() {
        let label = column.name_str();
        let name = match label.strip_prefix('@') {
            Some(offset) => names.get(offset.parse::<usize>().ok()?)?.clone(),
            None => label.to_lowercase(),
        };
        let Some(BinlogValue::Value(value)) = row.as_ref(at) else {
            continue;
        };
        if let Some(value) = convert(value, column.column_type(), &name, schema) {
            image.insert(name, value);
        }
    }
    Some(image)
}

fn is_integer(kind: ColumnType) -> bool {
    use ColumnType::*;
    matches!(
        kind,
        MYSQL_TYPE_TINY | MYSQL_TYPE_SHORT | MYSQL_TYPE_INT24 | MYSQL_TYPE_LONG | MYSQL_TYPE_LONGLONG
    )
}

/// A binlog value as a bound value would hold it; `None` for kinds not compared.
fn convert(value: &MyValue, kind: ColumnType, name: &str, schema: &TableSchema) -> Option<Value> {
    match value {
        MyValue::NULL if is_integer(kind) => Some(Value::BigInt(None)),
        MyValue::NULL if kind.is_character_type() => Some(Value::String(None)),
        MyValue::Int(n) if is_integer(kind) => Some(integer(i128::from(*n), name, schema)),
        MyValue::UInt(n) if is_integer(kind) => Some(integer(i128::from(*n), name, schema)),
        MyValue::Bytes(bytes) if kind.is_character_type() => Some(match std::str::from_utf8(bytes) {
            Ok(text) => Value::String(Some(text.to_owned())),
            Err(_) => Value::Bytes(Some(bytes.clone())),
        }),
        _ => None,
    }
}

/// `n` in `name`'s range: a negative value of an unsigned column is its two's complement.
fn integer(n: i128, name: &str, schema: &TableSchema) -> Value {
    let range = schema
        .integer_columns
        .iter()
        .position(|c| c == name)
        .and_then(|at| schema.ranges.get(at));
    let n = match range {
        Some(&(0, high)) if n < 0 => n + high + 1,
        _ => n,
    };
    match i64::try_from(n) {
        Ok(n) => Value::BigInt(Some(n)),
        Err(_) => Value::BigUnsigned(u64::try_from(n).ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_columns_are_taken_back_into_their_range() {
        let schema = TableSchema {
            integer_columns: vec!["n".into(), "s".into()],
            ranges: vec![(0, 4_294_967_295), (-128, 127)],
            ..TableSchema::default()
        };
        assert_eq!(integer(-1, "n", &schema), Value::BigInt(Some(4_294_967_295)));
        assert_eq!(integer(-1, "s", &schema), Value::BigInt(Some(-1)));
        let big = TableSchema {
            integer_columns: vec!["n".into()],
            ranges: vec![(0, u64::MAX as i128)],
            ..TableSchema::default()
        };
        assert_eq!(integer(-1, "n", &big), Value::BigUnsigned(Some(u64::MAX)));
        let long = ColumnType::MYSQL_TYPE_LONG;
        assert_eq!(
            convert(&MyValue::NULL, long, "n", &schema),
            Some(Value::BigInt(None))
        );
        assert_eq!(
            convert(&MyValue::Bytes(b"x".to_vec()), ColumnType::MYSQL_TYPE_VARCHAR, "t", &schema),
            Some(Value::String(Some("x".into())))
        );
        assert_eq!(convert(&MyValue::Double(1.0), long, "n", &schema), None);
    }
}

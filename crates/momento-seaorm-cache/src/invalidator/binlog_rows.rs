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
use crate::catalog::{Kind, UuidForm};
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
        MYSQL_TYPE_TINY
            | MYSQL_TYPE_SHORT
            | MYSQL_TYPE_INT24
            | MYSQL_TYPE_LONG
            | MYSQL_TYPE_LONGLONG
    )
}

/// A binlog value of a tracked column as a bound value would hold it; `None` for columns not
/// tracked and values of another kind than the catalog's (the column then counts as unknown).
fn convert(value: &MyValue, logged: ColumnType, name: &str, schema: &TableSchema) -> Option<Value> {
    let kind = schema.kind(name)?;
    match (kind, value) {
        (Kind::Integer { .. }, MyValue::NULL) => Some(Value::BigInt(None)),
        (Kind::Uuid(_), MyValue::NULL) => Some(Value::Bytes(None)),
        (Kind::Text { .. }, MyValue::NULL) => Some(Value::String(None)),
        (Kind::Integer { low, high }, MyValue::Int(n)) if is_integer(logged) => {
            Some(integer(i128::from(*n), (*low, *high)))
        }
        (Kind::Integer { low, high }, MyValue::UInt(n)) if is_integer(logged) => {
            Some(integer(i128::from(*n), (*low, *high)))
        }
        // BINARY(16): the log drops trailing zero bytes, which the column pads back.
        (Kind::Uuid(UuidForm::Bytes), MyValue::Bytes(bytes))
            if logged.is_character_type() && bytes.len() <= 16 =>
        {
            let mut padded = bytes.clone();
            padded.resize(16, 0);
            Some(Value::Bytes(Some(padded)))
        }
        (Kind::Text { .. }, MyValue::Bytes(bytes)) if logged.is_character_type() => {
            String::from_utf8(bytes.clone())
                .ok()
                .map(|t| Value::String(Some(t)))
        }
        _ => None,
    }
}

/// `n` in the column's range `(low, high)`: a negative value of an unsigned column is its
/// two's complement.
fn integer(n: i128, (low, high): (i128, i128)) -> Value {
    let n = if low == 0 && n < 0 { n + high + 1 } else { n };
    match i64::try_from(n) {
        Ok(n) => Value::BigInt(Some(n)),
        Err(_) => Value::BigUnsigned(u64::try_from(n).ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_follow_the_catalogs_kind() {
        let schema = TableSchema {
            tracked: [
                ("n".to_owned(), Kind::integer("int", true).unwrap()),
                ("s".to_owned(), Kind::integer("tinyint", false).unwrap()),
                ("u".to_owned(), Kind::Uuid(UuidForm::Bytes)),
                (
                    "t".to_owned(),
                    Kind::Text {
                        max_chars: None,
                        max_bytes: None,
                    },
                ),
            ]
            .into(),
            ..TableSchema::default()
        };
        let long = ColumnType::MYSQL_TYPE_LONG;
        let text = ColumnType::MYSQL_TYPE_VARCHAR;
        let c = |v: MyValue, logged, name| convert(&v, logged, name, &schema);
        assert_eq!(
            c(MyValue::Int(-1), long, "n"),
            Some(Value::BigInt(Some(4_294_967_295)))
        );
        assert_eq!(
            c(MyValue::Int(-1), ColumnType::MYSQL_TYPE_TINY, "s"),
            Some(Value::BigInt(Some(-1)))
        );
        assert_eq!(c(MyValue::NULL, long, "n"), Some(Value::BigInt(None)));
        assert_eq!(
            c(MyValue::Bytes(b"x".to_vec()), text, "t"),
            Some(Value::String(Some("x".into())))
        );
        let mut id = vec![7u8; 15];
        let short = c(
            MyValue::Bytes(id.clone()),
            ColumnType::MYSQL_TYPE_STRING,
            "u",
        );
        id.push(0);
        assert_eq!(short, Some(Value::Bytes(Some(id))));
        assert_eq!(c(MyValue::Double(1.0), long, "n"), None);
        assert_eq!(c(MyValue::Int(1), long, "untracked"), None);
        assert_eq!(
            integer(-1, (0, u64::MAX as i128)),
            Value::BigUnsigned(Some(u64::MAX))
        );
    }
}

//! The values row scopes track, in one canonical form that every reader and writer derives from
//! the bound [`sea_orm::Value`] (or a value change capture decoded), given what the catalog
//! says of the column ([`Kind`]).
//!
//! The one rule every canonical form keeps: **two values the database compares equal have the
//! same canonical form** (two it tells apart may share one: that only invalidates more). So
//! integers are their value, UUIDs their 128 bits whatever their spelling (a PostgreSQL `uuid`,
//! MariaDB `BINARY(16)` bytes, SQLite's blob or text), and text only in columns whose
//! collation compares byte for byte (see [`Kind::Text`]); anything else is not tracked.

use std::fmt::Write as _;

use sea_orm::prelude::Uuid;
use sea_orm::Value;
use sha2::{Digest, Sha256};

use crate::catalog::{Kind, UuidForm};

/// Text longer than this (in bytes) is named by its hash in generation keys.
pub(crate) const MAX_KEY_TEXT: usize = 64;

/// A tracked value in its canonical form.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum RowValue {
    /// An integer.
    Int(i128),
    /// A UUID, as its 128 bits.
    Uuid(u128),
    /// Text as the database stores and compares it (exact collations only).
    Text(String),
}

impl From<i128> for RowValue {
    fn from(value: i128) -> RowValue {
        RowValue::Int(value)
    }
}

impl RowValue {
    /// How the value appears in a generation key (`…#column=<this>`): an integer in decimal
    /// (as keys always named them), a UUID lower-case hyphenated, text after a `'`, or `~` and
    /// the hex SHA-256 of the text when it is longer than [`MAX_KEY_TEXT`] bytes (the `'` and `~` forms cannot meet). The first
    /// character tells the forms apart, so distinct values have distinct keys.
    pub(crate) fn push_key(&self, key: &mut String) {
        match self {
            RowValue::Int(n) => key.push_str(itoa::Buffer::new().format(*n)),
            RowValue::Uuid(bits) => {
                let hyphenated = Uuid::from_u128(*bits).hyphenated();
                key.push_str(hyphenated.encode_lower(&mut Uuid::encode_buffer()));
            }
            RowValue::Text(text) if text.len() > MAX_KEY_TEXT => {
                key.push('~');
                for byte in Sha256::digest(text.as_bytes()) {
                    let _ = write!(key, "{byte:02x}");
                }
            }
            RowValue::Text(text) => {
                key.push('\'');
                key.push_str(text);
            }
        }
    }

    /// The key form of the value inside a tuple (`…#*a*b=<v1>*<v2>`): as
    /// [`push_key`](Self::push_key), with `%` and `*` in text percent-escaped so the elements
    /// stay apart.
    pub(crate) fn push_tuple_key(&self, key: &mut String) {
        let mut own = String::new();
        self.push_key(&mut own);
        for c in own.chars() {
            match c {
                '%' => key.push_str("%25"),
                '*' => key.push_str("%2A"),
                c => key.push(c),
            }
        }
    }
}

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

/// `value`'s canonical form in a column of `kind`: `Ok(None)` for SQL `NULL`, `Err` when it
/// cannot be tracked (another type, a form the database may compare otherwise, a value the
/// column cannot hold as it is).
pub(crate) fn canonical(kind: &Kind, value: &Value) -> Result<Option<RowValue>, ()> {
    match kind {
        Kind::Integer { .. } => Ok(integer_value(value)?.map(RowValue::Int)),
        Kind::Uuid(form) => uuid_value(*form, value),
        Kind::Text {
            max_chars,
            max_bytes,
        } => {
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Char(c) => c.map(String::from),
                _ => return Err(()),
            };
            let Some(text) = text else { return Ok(None) };
            let fits = max_bytes.is_none_or(|max| text.len() as u64 <= max)
                && max_chars.is_none_or(|max| text.chars().count() as u64 <= max);
            if !fits {
                return Err(());
            }
            Ok(Some(RowValue::Text(text)))
        }
    }
}

fn uuid_value(form: UuidForm, value: &Value) -> Result<Option<RowValue>, ()> {
    let bits = |id: &Uuid| RowValue::Uuid(id.as_u128());
    match (form, value) {
        (_, Value::Uuid(id)) => Ok(id.as_ref().map(bits)),
        (UuidForm::Bytes | UuidForm::Sqlite, Value::Bytes(bytes)) => match bytes {
            None => Ok(None),
            Some(bytes) => Uuid::from_slice(bytes)
                .map(|id| Some(bits(&id)))
                .map_err(|_| ()),
        },
        (UuidForm::Native, Value::String(text)) => match text {
            None => Ok(None),
            Some(text) => Uuid::parse_str(text)
                .map(|id| Some(bits(&id)))
                .map_err(|_| ()),
        },
        // SQLite compares text as text: only the hyphenated form, which no collation
        // (BINARY, NOCASE, RTRIM) equates with another hyphenated UUID but by case.
        (UuidForm::Sqlite, Value::String(text)) => match text {
            None => Ok(None),
            Some(text) if text.len() == 36 => Uuid::try_parse(text)
                .map(|id| Some(bits(&id)))
                .map_err(|_| ()),
            Some(_) => Err(()),
        },
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(value: &RowValue) -> String {
        let mut key = String::new();
        value.push_key(&mut key);
        key
    }

    const ID: &str = "67e55044-10b1-426f-9247-bb680e5fe0c8";

    #[test]
    fn a_uuid_is_one_value_however_it_is_bound() {
        let id = Uuid::parse_str(ID).unwrap();
        let native = Kind::Uuid(UuidForm::Native);
        let bytes = Kind::Uuid(UuidForm::Bytes);
        let sqlite = Kind::Uuid(UuidForm::Sqlite);
        let expected = Ok(Some(RowValue::Uuid(id.as_u128())));
        assert_eq!(canonical(&native, &Value::Uuid(Some(id))), expected);
        assert_eq!(canonical(&native, &ID.to_uppercase().into()), expected);
        assert_eq!(
            canonical(&bytes, &Value::Bytes(Some(id.as_bytes().to_vec()))),
            expected
        );
        assert_eq!(
            canonical(&sqlite, &Value::Bytes(Some(id.as_bytes().to_vec()))),
            expected
        );
        assert_eq!(canonical(&sqlite, &ID.to_uppercase().into()), expected);
        assert_eq!(key(&RowValue::Uuid(id.as_u128())), ID);
        // Text MariaDB compares as bytes, SQLite's other spellings: not tracked.
        assert!(canonical(&bytes, &ID.into()).is_err());
        assert!(canonical(&sqlite, &id.simple().to_string().into()).is_err());
        assert!(canonical(&bytes, &Value::Bytes(Some(vec![1; 15]))).is_err());
        assert_eq!(canonical(&native, &Value::Uuid(None)), Ok(None));
    }

    #[test]
    fn text_is_tracked_when_it_fits_and_long_text_is_hashed() {
        let limited = Kind::Text {
            max_chars: Some(3),
            max_bytes: Some(12),
        };
        assert_eq!(
            canonical(&limited, &"abc".into()),
            Ok(Some(RowValue::Text("abc".into())))
        );
        assert!(canonical(&limited, &"abc ".into()).is_err(), "cut to fit");
        assert!(canonical(&limited, &Value::Int(Some(1))).is_err());
        let long = "x".repeat(MAX_KEY_TEXT + 1);
        let hashed = key(&RowValue::Text(long));
        assert!(hashed.starts_with('~') && hashed.len() == 65, "{hashed}");
        assert_eq!(key(&RowValue::Text("~a".into())), "'~a");
        assert_eq!(key(&RowValue::Int(-7)), "-7");
        let mut tuple = String::new();
        RowValue::Text("a*%".into()).push_tuple_key(&mut tuple);
        assert_eq!(tuple, "'a%2A%25");
    }
}

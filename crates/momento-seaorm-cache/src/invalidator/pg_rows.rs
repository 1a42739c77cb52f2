//! The rows in `test_decoding`'s change lines, as row images.
//!
//! ```text
//! table public.posts: INSERT: id[integer]:1 user_id[integer]:7 title[text]:'it''s'
//! table public.posts: UPDATE: id[integer]:1 user_id[integer]:8 title[text]:null
//! table public.posts: UPDATE: old-key: id[integer]:1 user_id[integer]:7 new-tuple: id[integer]:1 ...
//! table public.posts: DELETE: id[integer]:1
//! table public.posts: DELETE: (no-tuple-data)
//! ```
//! An `UPDATE` or `DELETE` shows the old row as the table's `REPLICA IDENTITY` has it logged:
//! `DEFAULT` logs the old primary key, and for an update only when the update changed it (so
//! an update without `old-key` left the key as the new tuple shows it); `FULL` logs every old
//! value but the `NULL`s; `USING INDEX` and `NOTHING` are not used (the old row is unknown).
//! A value stored out of line and not changed prints as `unchanged-toast-datum`: unknown.
//! Unknown old or new values are left out of the image, so the row's scopes fall back to the
//! column for them.

use sea_orm::Value;

use super::pg_catalog::ReplicaIdentity;
use super::row_bumps::RowImage;

/// What a change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Insert,
    Update,
    Delete,
}

/// One column's value as printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Datum {
    Null,
    /// A literal, unquoted (`''` undone) when it was quoted.
    Literal(String),
    /// Stored out of line and not changed: not shown.
    UnchangedToast,
}

/// One `name[type]:value` of a tuple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Column {
    pub(crate) name: String,
    pub(crate) type_name: String,
    pub(crate) datum: Datum,
}

/// The row data of one change line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RowData {
    pub(crate) op: Op,
    /// The old key or row (`old-key:` of an update, a delete's tuple).
    pub(crate) old: Option<Vec<Column>>,
    /// The new row (an insert's or update's tuple).
    pub(crate) new: Option<Vec<Column>>,
}

/// The row data after a change line's table names: `: INSERT: ...`; `None` for other
/// operations (`TRUNCATE`) and anything not read.
pub(crate) fn parse_row(rest: &str) -> Option<RowData> {
    let rest = rest.strip_prefix(": ")?;
    let (op, rest) = rest.split_once(':')?;
    let op = match op {
        "INSERT" => Op::Insert,
        "UPDATE" => Op::Update,
        "DELETE" => Op::Delete,
        _ => return None,
    };
    let no_data = rest == " (no-tuple-data)";
    match op {
        Op::Insert => Some(RowData {
            op,
            old: None,
            new: (!no_data).then(|| tuple(rest)).flatten().map(|(t, _)| t),
        }),
        Op::Delete => Some(RowData {
            op,
            old: (!no_data).then(|| tuple(rest)).flatten().map(|(t, _)| t),
            new: None,
        }),
        Op::Update => {
            let (old, rest) = match rest.strip_prefix(" old-key:") {
                Some(after) => {
                    let (old, after) = tuple(after)?;
                    (Some(old), after.strip_prefix(" new-tuple:")?)
                }
                None => (None, rest),
            };
            let new = if rest == " (no-tuple-data)" {
                None
            } else {
                let (new, left) = tuple(rest)?;
                if !left.is_empty() {
                    return None;
                }
                Some(new)
            };
            Some(RowData { op, old, new })
        }
    }
}

/// Columns ` name[type]:value` up to the end or ` new-tuple:`; what follows.
fn tuple(mut rest: &str) -> Option<(Vec<Column>, &str)> {
    let mut columns = Vec::new();
    loop {
        if rest.is_empty() || rest.starts_with(" new-tuple:") {
            return Some((columns, rest));
        }
        let (column, after) = column(rest.strip_prefix(' ')?)?;
        columns.push(column);
        rest = after;
    }
}

/// `name[type]:value`.
fn column(s: &str) -> Option<(Column, &str)> {
    let (name, rest) = match s.strip_prefix('"') {
        Some(quoted) => {
            let (name, after) = quoted_text(quoted, '"')?;
            (name, after)
        }
        None => {
            let end = s.find('[')?;
            (s[..end].to_owned(), &s[end..])
        }
    };
    let rest = rest.strip_prefix('[')?;
    // The first `]:` ends the type (`integer[]` prints as `[integer[]]:`).
    let end = rest.find("]:")?;
    let type_name = rest[..end].to_owned();
    let rest = &rest[end + 2..];
    let (datum, rest) = match rest.strip_prefix('\'') {
        Some(quoted) => {
            let (text, after) = quoted_text(quoted, '\'')?;
            (Datum::Literal(text), after)
        }
        None => {
            let end = rest.find(' ').unwrap_or(rest.len());
            let datum = match &rest[..end] {
                "null" => Datum::Null,
                "unchanged-toast-datum" => Datum::UnchangedToast,
                bare => Datum::Literal(bare.to_owned()),
            };
            (datum, &rest[end..])
        }
    };
    Some((
        Column {
            name,
            type_name,
            datum,
        },
        rest,
    ))
}

/// Text up to the closing `quote` (a doubled one stands for itself); what follows.
fn quoted_text(s: &str, quote: char) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            if s[i + 1..].starts_with(quote) {
                out.push(quote);
                chars.next();
            } else {
                return Some((out, &s[i + 1..]));
            }
        } else {
            out.push(c);
        }
    }
    None
}

/// The kinds of columns whose values are compared (others are left out of images).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Text,
    Uuid,
}

fn kind(type_name: &str) -> Option<Kind> {
    let base = type_name.split('(').next().unwrap_or(type_name).trim();
    Some(match base {
        "smallint" | "integer" | "bigint" => Kind::Integer,
        "text" | "character varying" | "character" | "name" => Kind::Text,
        "uuid" => Kind::Uuid,
        _ => return None,
    })
}

/// The value of a column as a bound value would hold it; `None` when not known.
fn value(column: &Column) -> Option<Value> {
    let kind = kind(&column.type_name)?;
    match &column.datum {
        Datum::UnchangedToast => None,
        Datum::Null => Some(match kind {
            Kind::Integer => Value::BigInt(None),
            Kind::Text => Value::String(None),
            Kind::Uuid => Value::Uuid(None),
        }),
        Datum::Literal(text) => match kind {
            Kind::Integer => text.parse::<i64>().ok().map(|n| Value::BigInt(Some(n))),
            Kind::Text => Some(Value::String(Some(text.clone()))),
            Kind::Uuid => super::row_bumps::uuid_value(Some(text)),
        },
    }
}

/// The known values of `columns`.
fn image(columns: &[Column]) -> RowImage {
    columns
        .iter()
        .filter_map(|c| value(c).map(|v| (c.name.to_lowercase(), v)))
        .collect()
}

/// The images before and after a change (`None`: no such row, an insert's before), with
/// `identity` the table's replica identity and `key` its primary key columns (lower case).
/// `None` when the change shows no row at all (`(no-tuple-data)`).
pub(crate) fn images(
    row: &RowData,
    identity: ReplicaIdentity,
    key: &[String],
) -> Option<(Option<RowImage>, Option<RowImage>)> {
    match row.op {
        Op::Insert => Some((None, Some(image(row.new.as_deref()?)))),
        Op::Delete => {
            let old = row.old.as_deref()?;
            let usable = identity != ReplicaIdentity::Other;
            Some((
                Some(if usable { image(old) } else { RowImage::new() }),
                None,
            ))
        }
        Op::Update => {
            let new = row.new.as_deref()?;
            let after = image(new);
            let before = match (&row.old, identity) {
                (Some(old), ReplicaIdentity::Full) => {
                    let mut before = image(old);
                    // FULL leaves the old NULLs out: a column the new row shows, absent from
                    // the old one, was NULL.
                    for column in new.iter().filter(|c| c.datum != Datum::UnchangedToast) {
                        let name = column.name.to_lowercase();
                        let null = value(&Column {
                            datum: Datum::Null,
                            ..column.clone()
                        });
                        if let (false, Some(null)) =
                            (old.iter().any(|o| o.name == column.name), null)
                        {
                            before.insert(name, null);
                        }
                    }
                    before
                }
                (Some(old), ReplicaIdentity::Default) => image(old),
                // No old key: the key is as the new row shows it.
                (None, ReplicaIdentity::Default) if !key.is_empty() => key
                    .iter()
                    .filter_map(|k| after.get(k).map(|v| (k.clone(), v.clone())))
                    .collect(),
                _ => RowImage::new(),
            };
            Some((Some(before), Some(after)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(n: i64) -> Value {
        Value::BigInt(Some(n))
    }

    fn text(s: &str) -> Value {
        Value::String(Some(s.to_owned()))
    }

    fn row(line: &str) -> RowData {
        let rest = line.split_once(": ").map(|(_, r)| r).unwrap();
        parse_row(&format!(": {rest}")).unwrap_or_else(|| panic!("not read: {line}"))
    }

    fn map(pairs: &[(&str, Value)]) -> RowImage {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn inserts_show_the_new_row_with_quotes_nulls_and_odd_names() {
        let r = row(
            r#"table public.posts: INSERT: id[integer]:1 "Title"[text]:'it''s a: b' n[bigint]:null tags[text[]]:'{a,b}' at[timestamp with time zone]:'2024-01-01 00:00:00+00'"#,
        );
        let (before, after) = images(&r, ReplicaIdentity::Default, &["id".into()]).unwrap();
        assert_eq!(before, None);
        assert_eq!(
            after.unwrap(),
            map(&[
                ("id", int(1)),
                ("title", text("it's a: b")),
                ("n", Value::BigInt(None))
            ])
        );
    }

    #[test]
    fn default_identity_knows_the_old_key_only() {
        let key = ["id".to_owned()];
        let r = row("table public.posts: UPDATE: id[integer]:1 user_id[integer]:8");
        let (before, after) = images(&r, ReplicaIdentity::Default, &key).unwrap();
        assert_eq!(before.unwrap(), map(&[("id", int(1))]));
        assert_eq!(after.unwrap(), map(&[("id", int(1)), ("user_id", int(8))]));
        let r = row(
            "table public.posts: UPDATE: old-key: id[integer]:1 new-tuple: id[integer]:2 user_id[integer]:8",
        );
        let (before, _) = images(&r, ReplicaIdentity::Default, &key).unwrap();
        assert_eq!(before.unwrap(), map(&[("id", int(1))]));
        let r = row("table public.posts: DELETE: id[integer]:1");
        let (before, after) = images(&r, ReplicaIdentity::Default, &key).unwrap();
        assert_eq!((before.unwrap(), after), (map(&[("id", int(1))]), None));
        // USING INDEX / NOTHING: nothing of the old row.
        let (before, _) = images(
            &row("table public.posts: UPDATE: id[integer]:1 user_id[integer]:8"),
            ReplicaIdentity::Other,
            &key,
        )
        .unwrap();
        assert_eq!(before.unwrap(), RowImage::new());
    }

    #[test]
    fn full_identity_knows_every_old_value_and_its_nulls() {
        let r = row(
            "table public.posts: UPDATE: old-key: id[integer]:1 user_id[integer]:7 new-tuple: id[integer]:1 user_id[integer]:8 votes[integer]:3 body[text]:unchanged-toast-datum",
        );
        let (before, after) = images(&r, ReplicaIdentity::Full, &[]).unwrap();
        assert_eq!(
            before.unwrap(),
            map(&[
                ("id", int(1)),
                ("user_id", int(7)),
                ("votes", Value::BigInt(None))
            ])
        );
        assert_eq!(
            after.unwrap(),
            map(&[("id", int(1)), ("user_id", int(8)), ("votes", int(3))])
        );
    }

    #[test]
    fn uuids_are_read_as_uuids() {
        let r = row(
            "table public.t: INSERT: id[uuid]:'6f1e0b4e-3c1a-4d2b-9a7e-0123456789ab' u[uuid]:null",
        );
        let (_, after) = images(&r, ReplicaIdentity::Full, &[]).unwrap();
        let id = sea_orm::prelude::Uuid::parse_str("6f1e0b4e-3c1a-4d2b-9a7e-0123456789ab");
        assert_eq!(
            after.unwrap(),
            map(&[("id", Value::Uuid(id.ok())), ("u", Value::Uuid(None))])
        );
    }

    #[test]
    fn no_tuple_data_and_truncate_are_not_rows() {
        let r = row("table public.posts: DELETE: (no-tuple-data)");
        assert_eq!(images(&r, ReplicaIdentity::Full, &[]), None);
        assert_eq!(parse_row(": TRUNCATE: (no-flags)"), None);
        assert_eq!(parse_row(": UPDATE: id[integer]:1 broken"), None);
    }
}

//! What a row change captured from the database (its before and after images, as change
//! capture decodes them) bumps: the same scopes the statement path bumps for the same change,
//! so a write from another service costs what the same write through a
//! [`CachedConnection`](crate::CachedConnection) costs.
//!
//! Like the statement path, this never bumps `#*` (any row) for a change whose rows are known:
//! `#*` is what every row and condition read of the table depends on, so bumping it on every
//! change would make every change reach every read. It is bumped when the primary key's value
//! is not known, when no tracked column's value is known, or when the table is not
//! row-precise. The table's own generation is the caller's to bump (as
//! [`row_keys`](crate::generations) does for the statement path).

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::Value;

use super::schema::{tracked_value, TableSchema};
use super::value::RowValue;
use super::write::{Scope, MAX_WRITE_SCOPES};

/// One row image as change capture decoded it: column (lower case) -> value. A column missing
/// from the image holds a value not known (PostgreSQL's `REPLICA IDENTITY DEFAULT` gives only
/// the old key; MariaDB's `binlog_row_image=MINIMAL` only some columns).
#[allow(dead_code)] // change capture's (src/invalidator/)
pub(crate) type RowImage = BTreeMap<String, Value>;

/// The scopes a row change captured from the database bumps: exactly what the statement path
/// bumps for the same change.
///
/// `before` is `None` when there was no row before (an insert), `after` when there is none
/// after (a delete). An update whose old image was not captured passes an empty image (or the
/// key-only image), not `None`: its old values are then unknown and widen to their columns.
///
/// For each tracked column (integers, UUIDs, exactly compared text: values made canonical as
/// the statement path makes bound values) and each image given: its value's scope when the image holds a
/// value that can be tracked, nothing for `NULL` (no condition read matches it), and the
/// column (`#column`: a value not known) when the image lacks it or holds a value that cannot
/// be tracked. `#*` (any row) replaces all of that when the primary key's value is not known,
/// when no column's is, or when there are more than [`MAX_WRITE_SCOPES`] scopes.
#[allow(dead_code)] // change capture's (src/invalidator/)
pub(crate) fn row_change(
    schema: &TableSchema,
    before: Option<&RowImage>,
    after: Option<&RowImage>,
) -> BTreeSet<Scope> {
    let any = || BTreeSet::from([Scope::AnyRow]);
    let images: Vec<&RowImage> = before.into_iter().chain(after).collect();
    if !schema.row_precise || images.is_empty() {
        return any();
    }
    let mut scopes = BTreeSet::new();
    let mut columns_unknown = 0;
    for column in schema.tracked.keys() {
        let mut known = true;
        for image in &images {
            match image
                .get(column)
                .map(|value| tracked_value(schema, column, value))
            {
                Some(Ok(Some(value))) => {
                    scopes.insert(Scope::Value(column.clone(), value));
                }
                Some(Ok(None)) => {}
                Some(Err(())) | None => known = false,
            }
        }
        if known {
            continue;
        }
        if schema.primary_key.as_ref() == Some(column) {
            return any();
        }
        columns_unknown += 1;
        scopes.retain(|s| !matches!(s, Scope::Value(c, _) if c == column));
        scopes.insert(Scope::Column(column.clone()));
    }
    // A composite key whole in an image: its tuple (a key column unknown is bumped already).
    for image in &images {
        let tuple: Option<Vec<RowValue>> = schema
            .key_columns
            .iter()
            .map(|c| tracked_value(schema, c, image.get(c)?).ok().flatten())
            .collect();
        if let Some(tuple) = tuple.filter(|t| !t.is_empty()) {
            scopes.insert(Scope::Tuple(schema.key_columns.clone(), tuple));
        }
    }
    if columns_unknown == schema.tracked.len() || scopes.len() > MAX_WRITE_SCOPES {
        return any();
    }
    scopes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> TableSchema {
        crate::rows::test_posts_schema()
    }

    fn image(pairs: &[(&str, Value)]) -> RowImage {
        pairs
            .iter()
            .map(|(c, v)| ((*c).to_owned(), v.clone()))
            .collect()
    }

    fn v(column: &str, value: i128) -> Scope {
        Scope::Value(column.into(), RowValue::Int(value))
    }

    fn col(column: &str) -> Scope {
        Scope::Column(column.into())
    }

    fn full(id: i32, user: i32, votes: Option<i32>) -> RowImage {
        image(&[
            ("id", Value::Int(Some(id))),
            ("title", Value::String(Some("t".into()))),
            ("user_id", Value::Int(Some(user))),
            ("votes", Value::Int(votes)),
        ])
    }

    fn scopes(before: Option<&RowImage>, after: Option<&RowImage>) -> Vec<Scope> {
        row_change(&schema(), before, after).into_iter().collect()
    }

    #[test]
    fn an_insert_bumps_the_values_it_stored_and_no_scope_for_null() {
        assert_eq!(
            scopes(None, Some(&full(5, 7, None))),
            vec![v("id", 5), v("user_id", 7)]
        );
    }

    #[test]
    fn a_full_update_bumps_old_and_new_values() {
        assert_eq!(
            scopes(Some(&full(5, 7, Some(1))), Some(&full(5, 8, Some(2)))),
            vec![
                v("id", 5),
                v("user_id", 7),
                v("user_id", 8),
                v("votes", 1),
                v("votes", 2)
            ]
        );
    }

    #[test]
    fn a_key_only_old_image_widens_the_other_columns() {
        // PostgreSQL REPLICA IDENTITY DEFAULT: an update's old image holds the key alone.
        let old = image(&[("id", Value::Int(Some(5)))]);
        assert_eq!(
            scopes(Some(&old), Some(&full(5, 8, Some(2)))),
            vec![col("user_id"), col("votes"), v("id", 5)]
        );
        // A delete with the old key alone.
        assert_eq!(
            scopes(Some(&old), None),
            vec![col("user_id"), col("votes"), v("id", 5)]
        );
    }

    #[test]
    fn an_unknown_key_or_nothing_known_is_any_row() {
        let keyless = image(&[("user_id", Value::Int(Some(7)))]);
        assert_eq!(scopes(None, Some(&keyless)), vec![Scope::AnyRow]);
        let odd_key = image(&[
            ("id", Value::String(Some("5".into()))),
            ("user_id", Value::Int(Some(7))),
        ]);
        assert_eq!(scopes(None, Some(&odd_key)), vec![Scope::AnyRow]);
        assert_eq!(scopes(None, None), vec![Scope::AnyRow]);
        let mut imprecise = schema();
        imprecise.row_precise = false;
        assert_eq!(
            row_change(&imprecise, None, Some(&full(1, 2, None)))
                .into_iter()
                .collect::<Vec<_>>(),
            vec![Scope::AnyRow]
        );
        let mut no_key = schema();
        no_key.primary_key = None;
        let empty = RowImage::new();
        assert_eq!(
            row_change(&no_key, Some(&empty), Some(&empty))
                .into_iter()
                .collect::<Vec<_>>(),
            vec![Scope::AnyRow],
            "no column known"
        );
    }

    #[test]
    fn a_value_that_cannot_be_tracked_widens_its_column() {
        let odd = image(&[
            ("id", Value::BigInt(Some(5))),
            ("user_id", Value::Double(Some(7.0))),
            ("votes", Value::TinyUnsigned(Some(3))),
        ]);
        assert_eq!(
            scopes(None, Some(&odd)),
            vec![col("user_id"), v("id", 5), v("votes", 3)]
        );
        // Known in one image, unknown in the other: the column alone.
        let old = image(&[("id", Value::Int(Some(5))), ("votes", Value::Int(Some(1)))]);
        assert_eq!(
            scopes(Some(&old), Some(&full(5, 8, Some(2)))),
            vec![col("user_id"), v("id", 5), v("votes", 1), v("votes", 2)]
        );
    }

    #[test]
    fn uuids_text_and_composite_keys_are_tracked_as_bound() {
        use crate::catalog::{Kind, UuidForm};
        let id = sea_orm::prelude::Uuid::from_u128(7);
        let schema = TableSchema {
            columns: vec!["email".into(), "id".into(), "org".into()],
            tracked: [
                ("id".to_owned(), Kind::Uuid(UuidForm::Bytes)),
                ("org".to_owned(), Kind::integer("int", false).unwrap()),
                (
                    "email".to_owned(),
                    Kind::Text {
                        max_chars: None,
                        max_bytes: None,
                    },
                ),
            ]
            .into(),
            key_columns: vec!["id".into(), "org".into()],
            row_precise: true,
            ..TableSchema::default()
        };
        // Binlog images hold BINARY(16) as bytes.
        let row = image(&[
            ("id", Value::Bytes(Some(id.as_bytes().to_vec()))),
            ("org", Value::Int(Some(2))),
            ("email", "a@x".into()),
        ]);
        let found: Vec<Scope> = row_change(&schema, None, Some(&row)).into_iter().collect();
        assert_eq!(
            found,
            vec![
                Scope::Value("email".into(), RowValue::Text("a@x".into())),
                Scope::Value("id".into(), RowValue::Uuid(7)),
                Scope::Value("org".into(), RowValue::Int(2)),
                Scope::Tuple(
                    vec!["id".into(), "org".into()],
                    vec![RowValue::Uuid(7), RowValue::Int(2)]
                ),
            ]
        );
        // The old image without the key's second column: that column, and no tuple.
        let old = image(&[("id", Value::Uuid(Some(id)))]);
        let found = row_change(&schema, Some(&old), None);
        assert!(found.contains(&col("org")) && found.contains(&col("email")));
        assert!(!found.iter().any(|s| matches!(s, Scope::Tuple(..))));
    }
}

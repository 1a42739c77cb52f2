//! What a write did to rows: for each tracked column of its table (integers, UUIDs, exactly
//! compared text), the values it may have changed rows from and to, when the statement, its
//! bound values and its result show them; and the composite primary keys those make.

use std::collections::BTreeSet;

use sea_orm::{DbBackend, QueryResult, Value as Bound};
use sqlparser::ast::{
    AssignmentTarget, Expr, Insert, OnConflictAction, OnInsert, SelectItem, SetExpr, Statement,
    TableObject,
};

use super::schema::TableSchema;
use super::sql::{pins, resolve, resolve_nullable, single_table, Pin, Placeholders, Source};
use super::value::{canonical, RowValue};
use crate::catalog::Kind;
use crate::tables::normalize as table_name;

/// At most this many row scopes per statement; a write touching more bumps its whole table's
/// rows (`#*`) instead.
pub(crate) const MAX_WRITE_SCOPES: usize = 64;

/// The part of a table's rows a write changed, or a read depends on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Scope {
    /// Any row (`#*`): what every row and condition read of the table depends on.
    AnyRow,
    /// Rows whose `column` held or holds a value not known (`#column`).
    Column(String),
    /// Rows whose `column` held or holds this value (`#column=value`).
    Value(String, RowValue),
    /// Rows whose composite primary key (these columns, sorted) held or holds these values
    /// (`#*a*b=va*vb`).
    Tuple(Vec<String>, Vec<RowValue>),
}

/// The columns a `RETURNING` clause hands back as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Returned {
    All,
    Columns(Vec<String>),
}

impl Returned {
    fn has(returned: &Option<Returned>, column: &str) -> bool {
        match returned {
            Some(Returned::All) => true,
            Some(Returned::Columns(columns)) => columns.iter().any(|c| c == column),
            None => false,
        }
    }
}

/// A write whose rows can be known, as parsed (memoized per text).
#[derive(Debug)]
pub(crate) enum WriteShape {
    /// `INSERT INTO t (columns) VALUES (...), ...`; a slot is `None` for an expression.
    Insert {
        table: String,
        columns: Vec<String>,
        rows: Vec<Vec<Option<Source>>>,
        returned: Option<Returned>,
    },
    /// `UPDATE t SET ... [WHERE ...]` of one table.
    Update {
        table: String,
        /// The table as the statement names it (schema, quotes).
        target: String,
        set: Vec<(String, Option<Source>)>,
        pins: Vec<Pin>,
        returned: Option<Returned>,
    },
    /// `DELETE FROM t [WHERE ...]` of one table.
    Delete {
        table: String,
        pins: Vec<Pin>,
        returned: Option<Returned>,
    },
}

/// What running the write gave back.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Outcome<'a> {
    /// The statement's bound values.
    pub values: &'a [Bound],
    /// The rows it returned, when it ran as a query.
    pub rows: Option<&'a [QueryResult]>,
    /// Whether `rows` holds every row returned (`query_all`), not only the first (`query_one`).
    pub all_rows: bool,
    /// For an update, the rows its primary-key pin selects as they are after it, read in the
    /// same transaction (see [`WriteShape::lookup`]).
    pub current: Option<&'a [QueryResult]>,
    /// The id the database generated for a one-row insert (MySQL, SQLite).
    pub inserted_id: Option<u64>,
    /// Whether it ran on MariaDB/MySQL (where a `NULL` stored in a `NOT NULL` column may
    /// become `0`, and `0` in an auto-increment key a generated id).
    pub mysql: bool,
}

impl WriteShape {
    /// The shape of `sql`, if it is one plain `INSERT ... VALUES`, `UPDATE` or `DELETE` of one
    /// table; upserts, `REPLACE`, multi-table forms and anything else are `None`.
    pub(crate) fn parse(backend: DbBackend, sql: &str) -> Option<WriteShape> {
        let statements = crate::tables::parse_statements(backend, sql)?;
        let [statement] = statements.as_slice() else {
            return None;
        };
        let placeholders = Placeholders::of(backend, sql)?;
        match statement {
            Statement::Insert(insert) => insert_shape(insert, &placeholders),
            Statement::Update(update) => {
                if update.from.is_some() || update.or.is_some() {
                    return None;
                }
                let (table, alias) = single_table(std::slice::from_ref(&update.table))?;
                let sqlparser::ast::TableFactor::Table { name, .. } = &update.table.relation else {
                    return None;
                };
                let target = name.to_string();
                let mut set = Vec::new();
                for assignment in &update.assignments {
                    let AssignmentTarget::ColumnName(name) = &assignment.target else {
                        return None;
                    };
                    let column = table_name(name)?;
                    set.push((column, super::sql::source(&assignment.value, &placeholders)));
                }
                let pins = pins(
                    update.selection.as_ref(),
                    &table,
                    alias.as_deref(),
                    &placeholders,
                );
                let returned = returned(update.returning.as_deref())?;
                Some(WriteShape::Update {
                    table,
                    target,
                    set,
                    pins,
                    returned,
                })
            }
            Statement::Delete(delete) => {
                if !delete.tables.is_empty() || delete.using.is_some() {
                    return None;
                }
                let from = match &delete.from {
                    sqlparser::ast::FromTable::WithFromKeyword(from)
                    | sqlparser::ast::FromTable::WithoutKeyword(from) => from,
                };
                let (table, alias) = single_table(from)?;
                let pins = pins(
                    delete.selection.as_ref(),
                    &table,
                    alias.as_deref(),
                    &placeholders,
                );
                let returned = returned(delete.returning.as_deref())?;
                Some(WriteShape::Delete {
                    table,
                    pins,
                    returned,
                })
            }
            _ => None,
        }
    }

    /// The table written.
    pub(crate) fn table(&self) -> &str {
        match self {
            WriteShape::Insert { table, .. }
            | WriteShape::Update { table, .. }
            | WriteShape::Delete { table, .. } => table,
        }
    }

    /// The scopes this write changed in a table with `schema`: for each integer column, the
    /// values rows held before and after when both are known, else the column; `AnyRow` when
    /// the primary key's values, or every column's, are not known, or there are too many.
    pub(crate) fn scopes(&self, schema: &TableSchema, outcome: Outcome<'_>) -> BTreeSet<Scope> {
        let any = || BTreeSet::from([Scope::AnyRow]);
        // The first returned row alone stands for the rows changed only when there can be one.
        let outcome = Outcome {
            rows: outcome
                .rows
                .filter(|_| outcome.all_rows || self.at_most_one_row(schema, outcome.values)),
            ..outcome
        };
        if !self.names_known_columns(schema) {
            return any();
        }
        let mut scopes = BTreeSet::new();
        let mut columns_unknown = 0;
        let mut known = std::collections::BTreeMap::new();
        for column in schema.tracked.keys() {
            match self.values_of(column, schema, outcome) {
                Some(values) => {
                    scopes.extend(
                        values
                            .iter()
                            .map(|v| Scope::Value(column.clone(), v.clone())),
                    );
                    known.insert(column.clone(), values);
                }
                None if schema.primary_key.as_ref() == Some(column) => return any(),
                None => {
                    columns_unknown += 1;
                    scopes.insert(Scope::Column(column.clone()));
                }
            }
        }
        key_tuples(schema, &known, &mut scopes);
        if columns_unknown == schema.tracked.len() || scopes.len() > MAX_WRITE_SCOPES {
            return any();
        }
        scopes
    }

    /// Every value `column` held in a changed row before the write or holds after it; `None`
    /// when not known.
    fn values_of(
        &self,
        column: &str,
        schema: &TableSchema,
        outcome: Outcome<'_>,
    ) -> Option<Vec<RowValue>> {
        let kind = schema.kind(column)?;
        let rows = outcome.rows;
        let from_rows = |returned: &Option<Returned>| {
            Returned::has(returned, column)
                .then_some(rows)
                .flatten()
                .and_then(|rows| returned_values(rows, column, kind))
        };
        let pinned = |pins: &[Pin]| {
            let (_, sources) = pins.iter().find(|(c, _)| c == column)?;
            resolve(sources, outcome.values, kind).ok()
        };
        match self {
            WriteShape::Insert {
                columns,
                rows,
                returned,
                ..
            } => {
                if let Some(values) = from_rows(returned) {
                    return Some(values);
                }
                match columns.iter().position(|c| c == column) {
                    Some(at) => {
                        let sources: Option<Vec<Source>> = rows
                            .iter()
                            .map(|row| row.get(at).cloned().flatten())
                            .collect();
                        let stored = stored(schema, column, &sources?, outcome);
                        let generated = schema.primary_key.as_deref() == Some(column)
                            && schema.auto_increment
                            && rows.len() == 1;
                        match (stored, generated) {
                            (Some(values), _) => Some(values),
                            (None, true) => outcome.inserted_id.map(|id| vec![id_value(id)]),
                            (None, false) => None,
                        }
                    }
                    None if schema.primary_key.as_deref() == Some(column)
                        && schema.auto_increment
                        && rows.len() == 1 =>
                    {
                        outcome.inserted_id.map(|id| vec![id_value(id)])
                    }
                    None => None,
                }
            }
            WriteShape::Update {
                set,
                pins,
                returned,
                ..
            } => {
                let current = || {
                    outcome
                        .current
                        .and_then(|rows| returned_values(rows, column, kind))
                };
                let Some((_, assigned)) = set.iter().find(|(c, _)| c == column) else {
                    // Not assigned: unchanged, so every changed row holds it before and after.
                    return from_rows(returned)
                        .or_else(current)
                        .or_else(|| pinned(pins));
                };
                let after = match assigned {
                    Some(source) => stored(schema, column, std::slice::from_ref(source), outcome),
                    None => from_rows(returned).or_else(current),
                };
                let mut values = pinned(pins)?;
                values.extend(after?);
                Some(values)
            }
            WriteShape::Delete { pins, returned, .. } => {
                from_rows(returned).or_else(|| pinned(pins))
            }
        }
    }
}

/// The values `sources` store in `column`, when they are what the database stores: no `NULL`
/// where the database may store something else (an auto-increment key; a `NOT NULL` column on
/// MySQL, whose non-strict modes store `0`), no `0` in a MySQL auto-increment key, every value
/// in the column's range (MySQL clamps).
fn stored(
    schema: &TableSchema,
    column: &str,
    sources: &[Source],
    outcome: Outcome<'_>,
) -> Option<Vec<RowValue>> {
    let generated = schema.auto_increment && schema.primary_key.as_deref() == Some(column);
    let mut out = Vec::with_capacity(sources.len());
    for value in resolve_nullable(sources, outcome.values, schema.kind(column)?).ok()? {
        match value {
            None if generated || (outcome.mysql && schema.is_not_null(column)) => return None,
            None => {}
            Some(RowValue::Int(0)) if generated && outcome.mysql => return None,
            Some(RowValue::Int(n)) if !schema.fits(column, n) => return None,
            Some(v) => out.push(v),
        }
    }
    Some(out)
}

/// The id the database generated, as the key's value.
fn id_value(id: u64) -> RowValue {
    RowValue::Int(i128::from(id))
}

/// Adds the composite primary keys the changed rows held or hold: every combination of the
/// values `known` for each key column (a superset of the rows' keys). Where a key column's
/// values are not known its `#column` is already bumped, which every read of whole keys
/// depends on; where the combinations are too many, the first key column's.
fn key_tuples(
    schema: &TableSchema,
    known: &std::collections::BTreeMap<String, Vec<RowValue>>,
    scopes: &mut BTreeSet<Scope>,
) {
    if schema.key_columns.is_empty() {
        return;
    }
    let mut tuples: BTreeSet<Vec<RowValue>> = BTreeSet::from([Vec::new()]);
    for column in &schema.key_columns {
        let Some(values) = known.get(column) else {
            return;
        };
        let values: BTreeSet<&RowValue> = values.iter().collect();
        if tuples.len() * values.len() > MAX_WRITE_SCOPES {
            scopes.insert(Scope::Column(schema.key_columns[0].clone()));
            return;
        }
        tuples = tuples
            .iter()
            .flat_map(|t| {
                values.iter().map(move |v| {
                    let mut t = t.clone();
                    t.push((*v).clone());
                    t
                })
            })
            .collect();
    }
    scopes.extend(
        tuples
            .into_iter()
            .filter(|t| !t.is_empty())
            .map(|t| Scope::Tuple(schema.key_columns.clone(), t)),
    );
}

impl WriteShape {
    /// Whether every column the statement names is one of the table's, each assigned at most
    /// once (a rowid alias, a column added since the catalog was read, or `SET a = 1, a = 2`
    /// make the rows written unknown).
    fn names_known_columns(&self, schema: &TableSchema) -> bool {
        let (named, pins): (Vec<&String>, &[Pin]) = match self {
            WriteShape::Insert { columns, .. } => (columns.iter().collect(), &[]),
            WriteShape::Update { set, pins, .. } => (set.iter().map(|(c, _)| c).collect(), pins),
            WriteShape::Delete { pins, .. } => (Vec::new(), pins),
        };
        let mut seen = BTreeSet::new();
        named
            .iter()
            .all(|c| schema.has_column(c) && seen.insert(*c))
            && pins.iter().all(|(c, _)| schema.has_column(c))
    }

    /// For an `UPDATE` whose `WHERE` pins an integer primary key (at most 16 values) and does
    /// not assign it, leaving tracked columns whose values neither it nor a `RETURNING` shows: a
    /// `SELECT` of those rows' tracked columns. Run in the update's transaction, after it, it
    /// shows them as the update left them with no other write in between (the update holds
    /// the rows' locks; SQLite, its database's), so unassigned columns are known before and
    /// after.
    pub(crate) fn lookup(
        &self,
        schema: &TableSchema,
        values: &[Bound],
        backend: DbBackend,
    ) -> Option<String> {
        let WriteShape::Update {
            set,
            pins,
            returned: None,
            target,
            ..
        } = self
        else {
            return None;
        };
        let key = schema.primary_key.as_ref()?;
        let kind = schema.kind(key).filter(|k| k.range().is_some())?;
        let assigned = |c: &String| set.iter().any(|(s, _)| s == c);
        let unknown = schema.tracked.keys().any(|c| c != key && !assigned(c));
        if assigned(key) || !unknown || !schema.tracked.keys().all(|c| plain_name(c)) {
            return None;
        }
        let (_, sources) = pins.iter().find(|(c, _)| c == key)?;
        let keys = resolve(sources, values, kind).ok()?;
        if keys.is_empty() || keys.len() > super::read::MAX_CONDITION_VALUES {
            return None;
        }
        let quote = |c: &str| match backend {
            DbBackend::MySql => format!("`{c}`"),
            _ => format!("\"{c}\""),
        };
        let columns: Vec<String> = schema.tracked.keys().map(|c| quote(c)).collect();
        let keys: Vec<String> = keys
            .iter()
            .map(|k| match k {
                RowValue::Int(n) => Some(n.to_string()),
                _ => None,
            })
            .collect::<Option<_>>()?;
        Some(format!(
            "SELECT {} FROM {target} WHERE {} IN ({})",
            columns.join(", "),
            quote(key),
            keys.join(", ")
        ))
    }

    /// Whether the write changes at most one row: a one-row insert, or a `WHERE` pinning the
    /// primary key to one value.
    fn at_most_one_row(&self, schema: &TableSchema, values: &[Bound]) -> bool {
        let pins = match self {
            WriteShape::Insert { rows, .. } => return rows.len() == 1,
            WriteShape::Update { pins, .. } | WriteShape::Delete { pins, .. } => pins,
        };
        let one = |key: &String| {
            let Some(kind) = schema.kind(key) else {
                return false;
            };
            pins.iter()
                .filter(|(c, _)| c == key)
                .any(|(_, sources)| resolve(sources, values, kind).is_ok_and(|v| v.len() <= 1))
        };
        match &schema.primary_key {
            Some(key) => one(key),
            None => !schema.key_columns.is_empty() && schema.key_columns.iter().all(one),
        }
    }
}

/// A lower-case name that needs no quoting rules of its own (entity names are used as written).
fn plain_name(name: &str) -> bool {
    name.chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn insert_shape(insert: &Insert, placeholders: &Placeholders) -> Option<WriteShape> {
    let replaces = match &insert.on {
        None => false,
        Some(OnInsert::OnConflict(c)) => !matches!(c.action, OnConflictAction::DoNothing),
        Some(_) => true,
    };
    let or_replaces = insert
        .or
        .as_ref()
        .is_some_and(|or| !matches!(or, sqlparser::ast::SqliteOnConflict::Ignore));
    if replaces || or_replaces || insert.replace_into || !insert.assignments.is_empty() {
        return None;
    }
    let TableObject::TableName(name) = &insert.table else {
        return None;
    };
    let table = table_name(name)?;
    let columns: Option<Vec<String>> = insert.columns.iter().map(table_name).collect();
    let SetExpr::Values(values) = insert.source.as_ref()?.body.as_ref() else {
        return None;
    };
    let rows = values
        .rows
        .iter()
        .map(|row| {
            row.content
                .iter()
                .map(|e| super::sql::source(e, placeholders))
                .collect()
        })
        .collect();
    let returned = returned(insert.returning.as_deref())?;
    Some(WriteShape::Insert {
        table,
        columns: columns?,
        rows,
        returned,
    })
}

/// What a `RETURNING` clause hands back unchanged: `Some(None)` without one, `None` if it is
/// not understood.
fn returned(items: Option<&[SelectItem]>) -> Option<Option<Returned>> {
    let Some(items) = items else {
        return Some(None);
    };
    // Any other item (an expression, a column under another name) could shadow a column of
    // the same name in the rows returned: then none of them is taken as the table's.
    let mut columns = Vec::new();
    let mut all = false;
    for item in items {
        match item {
            SelectItem::Wildcard(_) => all = true,
            SelectItem::UnnamedExpr(expr) => match plain_column(expr) {
                Some(column) => columns.push(column),
                None => return Some(None),
            },
            SelectItem::ExprWithAlias { expr, alias } => match plain_column(expr) {
                Some(column) if column == alias.value.to_lowercase() => columns.push(column),
                _ => return Some(None),
            },
            _ => return Some(None),
        }
    }
    Some(Some(if all {
        Returned::All
    } else {
        Returned::Columns(columns)
    }))
}

fn plain_column(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Identifier(ident) => Some(ident.value.to_lowercase()),
        Expr::CompoundIdentifier(parts) => parts.last().map(|p| p.value.to_lowercase()),
        _ => None,
    }
}

/// The values (`NULL`s left out) `column`, of `kind`, holds in every returned row; `None` if
/// one row holds something else there.
fn returned_values(rows: &[QueryResult], column: &str, kind: &Kind) -> Option<Vec<RowValue>> {
    rows.iter()
        .map(|row| value_at(row, column, kind))
        .collect::<Option<Vec<Option<RowValue>>>>()
        .map(|values| values.into_iter().flatten().collect())
}

/// The value in `row`'s `column`, of `kind`: `Some(None)` for `NULL`, `None` when it is not one
/// that can be tracked. Decoded as whatever the driver hands back, then made canonical as a
/// bound value would be.
fn value_at(row: &QueryResult, column: &str, kind: &Kind) -> Option<Option<RowValue>> {
    use sea_orm::prelude::Uuid;
    let tracked = |value: Bound| canonical(kind, &value).ok();
    match kind {
        Kind::Integer { .. } => integer_at(row, column).map(|v| v.map(RowValue::Int)),
        Kind::Uuid(_) => row
            .try_get::<Option<Uuid>>("", column)
            .ok()
            .and_then(|v| tracked(Bound::Uuid(v)))
            .or_else(|| {
                let bytes = row.try_get::<Option<Vec<u8>>>("", column).ok()?;
                tracked(Bound::Bytes(bytes))
            })
            .or_else(|| tracked(Bound::String(row.try_get("", column).ok()?))),
        Kind::Text { .. } => tracked(Bound::String(row.try_get("", column).ok()?)),
    }
}

/// The integer in `row`'s `column`: `Some(None)` for `NULL`, `None` when it is not an integer.
fn integer_at(row: &QueryResult, column: &str) -> Option<Option<i128>> {
    if let Ok(v) = row.try_get::<Option<i64>>("", column) {
        return Some(v.map(i128::from));
    }
    if let Ok(v) = row.try_get::<Option<i32>>("", column) {
        return Some(v.map(i128::from));
    }
    if let Ok(v) = row.try_get::<Option<i16>>("", column) {
        return Some(v.map(i128::from));
    }
    if let Ok(v) = row.try_get::<Option<u64>>("", column) {
        return Some(v.map(i128::from));
    }
    row.try_get::<Option<u32>>("", column)
        .ok()
        .map(|v| v.map(i128::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(backend: DbBackend, sql: &str, values: &[Bound], id: Option<u64>) -> Vec<Scope> {
        let Some(shape) = WriteShape::parse(backend, sql) else {
            return vec![Scope::AnyRow];
        };
        let outcome = Outcome {
            values,
            rows: None,
            all_rows: false,
            current: None,
            inserted_id: id,
            mysql: backend == DbBackend::MySql,
        };
        shape
            .scopes(&crate::rows::test_posts_schema(), outcome)
            .into_iter()
            .collect()
    }

    fn v(column: &str, value: i128) -> Scope {
        Scope::Value(column.into(), RowValue::Int(value))
    }

    fn col(column: &str) -> Scope {
        Scope::Column(column.into())
    }

    #[test]
    fn an_update_by_key_knows_the_key_and_the_assigned_values_old_value_is_a_column() {
        let sql = r#"UPDATE "posts" SET "title" = $1, "votes" = $2 WHERE "posts"."id" = $3"#;
        let values = ["t".into(), Bound::Int(Some(4)), Bound::Int(Some(5))];
        // user_id unchanged but not known: its column; votes: old unknown, so its column.
        assert_eq!(
            scopes(DbBackend::Postgres, sql, &values, None),
            vec![col("user_id"), col("votes"), v("id", 5)]
        );
        let sql = "UPDATE posts SET user_id = ? WHERE id = ? AND user_id = ?";
        let values = [
            Bound::Int(Some(8)),
            Bound::Int(Some(5)),
            Bound::Int(Some(7)),
        ];
        assert_eq!(
            scopes(DbBackend::Sqlite, sql, &values, None),
            vec![col("votes"), v("id", 5), v("user_id", 7), v("user_id", 8)]
        );
    }

    #[test]
    fn inserts_know_their_values_or_the_generated_id() {
        let sql = "INSERT INTO posts (user_id, votes, title) VALUES (?, 0, ?)";
        let values = [Bound::Int(Some(7)), "t".into()];
        assert_eq!(
            scopes(DbBackend::MySql, sql, &values, Some(11)),
            vec![v("id", 11), v("user_id", 7), v("votes", 0)]
        );
        assert_eq!(
            scopes(DbBackend::MySql, sql, &values, None),
            vec![Scope::AnyRow]
        );
        let sql = "INSERT INTO posts (id, user_id) VALUES (1, 2), (3, 2)";
        assert_eq!(
            scopes(DbBackend::Postgres, sql, &[], None),
            vec![col("votes"), v("id", 1), v("id", 3), v("user_id", 2)]
        );
    }

    #[test]
    fn unknown_rows_are_any_row() {
        for (backend, sql) in [
            (
                DbBackend::Postgres,
                "UPDATE posts SET votes = 1 WHERE votes > 3",
            ),
            (DbBackend::Postgres, "DELETE FROM posts"),
            (
                DbBackend::Postgres,
                "UPDATE posts SET id = id + 1 WHERE user_id = 2",
            ),
            (
                DbBackend::Postgres,
                "INSERT INTO posts (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET votes = 1",
            ),
            (DbBackend::MySql, "REPLACE INTO posts (id) VALUES (1)"),
            (
                DbBackend::Sqlite,
                "INSERT OR REPLACE INTO posts (id) VALUES (1)",
            ),
            (
                DbBackend::Postgres,
                "UPDATE posts SET votes = 1 FROM users WHERE users.id = posts.id",
            ),
            (
                DbBackend::Postgres,
                "INSERT INTO posts (id) SELECT id FROM users",
            ),
            (
                DbBackend::MySql,
                "DELETE posts FROM posts JOIN users ON users.id = posts.user_id",
            ),
        ] {
            assert_eq!(
                scopes(backend, sql, &[], None),
                vec![Scope::AnyRow],
                "{sql}"
            );
        }
    }

    #[test]
    fn an_update_by_key_looks_up_what_it_does_not_show() {
        let shape = |sql: &str| WriteShape::parse(DbBackend::MySql, sql).unwrap();
        let values = [Bound::Int(Some(3)), Bound::Int(Some(5))];
        let lookup = shape("UPDATE `app`.`posts` SET `votes` = ? WHERE `posts`.`id` = ?").lookup(
            &crate::rows::test_posts_schema(),
            &values,
            DbBackend::MySql,
        );
        assert_eq!(
            lookup.as_deref(),
            Some("SELECT `id`, `user_id`, `votes` FROM `app`.`posts` WHERE `id` IN (5)")
        );
        for sql in [
            "UPDATE posts SET id = 9 WHERE id = 5",
            "UPDATE posts SET votes = 1 WHERE user_id = 5",
            "UPDATE posts SET user_id = 1, votes = 2 WHERE id = 5",
            "DELETE FROM posts WHERE id = 5",
        ] {
            assert_eq!(
                shape(sql).lookup(&crate::rows::test_posts_schema(), &[], DbBackend::MySql),
                None,
                "{sql}"
            );
        }
    }

    #[test]
    fn a_delete_by_key_knows_the_key_only() {
        assert_eq!(
            scopes(
                DbBackend::Postgres,
                "DELETE FROM posts WHERE id IN (1, 2)",
                &[],
                None
            ),
            vec![col("user_id"), col("votes"), v("id", 1), v("id", 2)]
        );
    }
}

//! Which reads depend on rows rather than on their whole table: a `SELECT` of one table, with
//! no join and no subquery, whose `WHERE` conjunction compares a tracked column (integer, UUID,
//! exactly compared text) with known values (`id = 5`, `email IN ('a@x', 'b@x')`), or pins
//! every column of a composite primary key.

use sea_orm::{DbBackend, Statement as SeaStatement};
use sqlparser::ast::{SetExpr, Statement};

use super::schema::TableSchema;
use super::sql::{nested_queries, pins, resolve, single_table, Pin, Placeholders};
use super::value::RowValue;

/// At most this many values in one `IN (...)` read by condition; a longer list reads the table.
pub(crate) const MAX_CONDITION_VALUES: usize = 16;

/// The parts of a read's SQL that row-level dependencies need, memoized per text.
#[derive(Debug)]
pub(crate) struct ReadShape {
    table: String,
    pins: Vec<Pin>,
}

impl ReadShape {
    /// The shape of `sql`, if it is a single-table `SELECT` without joins, subqueries, CTEs or
    /// set operations.
    pub(crate) fn parse(backend: DbBackend, sql: &str) -> Option<ReadShape> {
        let statements = crate::tables::parse_statements(backend, sql)?;
        let [statement] = statements.as_slice() else {
            return None;
        };
        let Statement::Query(query) = statement else {
            return None;
        };
        if query.with.is_some() || nested_queries(statement, 1) {
            return None;
        }
        let SetExpr::Select(select) = query.body.as_ref() else {
            return None;
        };
        let (table, alias) = single_table(&select.from)?;
        let placeholders = Placeholders::of(backend, sql)?;
        let pins = pins(
            select.selection.as_ref(),
            &table,
            alias.as_deref(),
            &placeholders,
        );
        (!pins.is_empty()).then_some(ReadShape { table, pins })
    }

    /// The table read.
    pub(crate) fn table(&self) -> &str {
        &self.table
    }

    /// The condition this read of a table with `schema` depends on: the primary key's if it is
    /// pinned (every column of a composite one), else the first pinned tracked column's; `None`
    /// (the whole table) when no pin resolves to at most [`MAX_CONDITION_VALUES`] values.
    pub(crate) fn condition(
        &self,
        schema: &TableSchema,
        statement: &SeaStatement,
    ) -> Option<Condition> {
        let values = statement
            .values
            .as_ref()
            .map(|v| v.0.as_slice())
            .unwrap_or(&[]);
        let usable = |(column, sources): &Pin| {
            let kind = schema.kind(column)?;
            if sources.len() > MAX_CONDITION_VALUES {
                return None;
            }
            let mut values = resolve(sources, values, kind).ok()?;
            values.sort_unstable();
            values.dedup();
            Some(Condition {
                primary: schema.primary_key.as_deref() == Some(column.as_str()),
                column: column.clone(),
                values,
                key: None,
            })
        };
        let mut found: Vec<Condition> = self.pins.iter().filter_map(usable).collect();
        if let Some(key) = composite_key(schema, &found) {
            return Some(key);
        }
        let position = found.iter().position(|c| c.primary).unwrap_or(0);
        (!found.is_empty()).then(|| found.swap_remove(position))
    }
}

/// A read's condition: rows whose `column` holds one of `values`; or, with `key`, rows whose
/// composite primary key is one of its tuples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Condition {
    /// The column compared (lower case).
    pub column: String,
    /// The values it is compared with (sorted, no `NULL`).
    pub values: Vec<RowValue>,
    /// Whether `column` is the table's primary key.
    pub primary: bool,
    /// A composite primary key pinned whole: its columns (sorted) and every tuple of values
    /// the pins allow (their product, at most [`MAX_CONDITION_VALUES`]).
    pub key: Option<(Vec<String>, Vec<Vec<RowValue>>)>,
}

/// The condition on a composite primary key when `found` pins each of its columns: the
/// product of the pinned values (rows outside it cannot match every pin).
fn composite_key(schema: &TableSchema, found: &[Condition]) -> Option<Condition> {
    if schema.key_columns.is_empty() {
        return None;
    }
    let mut tuples: Vec<Vec<RowValue>> = vec![Vec::new()];
    for column in &schema.key_columns {
        let pinned = found.iter().find(|c| &c.column == column)?;
        if tuples.len() * pinned.values.len() > MAX_CONDITION_VALUES {
            return None;
        }
        tuples = tuples
            .iter()
            .flat_map(|t| {
                pinned.values.iter().map(move |v| {
                    let mut t = t.clone();
                    t.push(v.clone());
                    t
                })
            })
            .collect();
    }
    Some(Condition {
        column: schema.key_columns[0].clone(),
        values: Vec::new(),
        primary: false,
        key: Some((schema.key_columns.clone(), tuples)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Value;

    fn schema() -> TableSchema {
        crate::rows::test_posts_schema()
    }

    fn condition(sql: &str, values: Vec<Value>) -> Option<Condition> {
        let shape = ReadShape::parse(DbBackend::Postgres, sql)?;
        let statement = SeaStatement::from_sql_and_values(DbBackend::Postgres, sql, values);
        shape.condition(&schema(), &statement)
    }

    #[test]
    fn the_primary_key_is_preferred_and_values_come_from_binds() {
        let found = condition(
            r#"SELECT "posts"."id" FROM "posts" WHERE "posts"."user_id" = $1 AND "posts"."id" IN ($2, $3) LIMIT $4"#,
            vec![7.into(), 5.into(), 3.into(), 1u64.into()],
        );
        assert_eq!(
            found,
            Some(Condition {
                column: "id".into(),
                values: vec![RowValue::Int(3), RowValue::Int(5)],
                primary: true,
                key: None,
            })
        );
        let found = condition("SELECT * FROM posts WHERE user_id = $1", vec![7i64.into()]);
        assert_eq!(
            found.map(|c| (c.column, c.values)),
            Some(("user_id".into(), vec![RowValue::Int(7)]))
        );
    }

    #[test]
    fn joins_subqueries_ranges_and_other_types_read_the_table() {
        let seven = || vec![Value::Int(Some(7))];
        for sql in [
            "SELECT * FROM posts JOIN users ON users.id = posts.user_id WHERE posts.user_id = $1",
            "SELECT * FROM posts WHERE user_id = $1 AND id IN (SELECT id FROM posts)",
            "SELECT * FROM posts WHERE user_id = $1 AND EXISTS (SELECT 1 FROM users)",
            "WITH x AS (SELECT 1) SELECT * FROM posts WHERE user_id = $1",
            "SELECT * FROM posts WHERE user_id = $1 UNION SELECT * FROM posts",
            "SELECT * FROM posts WHERE user_id > $1",
            "SELECT * FROM posts WHERE user_id = $1 OR id = 2",
            "SELECT * FROM posts WHERE title = $1",
        ] {
            assert_eq!(condition(sql, seven()), None, "{sql}");
        }
        let text = vec![Value::String(Some("7".into()))];
        assert_eq!(
            condition("SELECT * FROM posts WHERE user_id = $1", text),
            None
        );
        let many: Vec<String> = (1..=17).map(|i| i.to_string()).collect();
        let sql = format!("SELECT * FROM posts WHERE user_id IN ({})", many.join(", "));
        assert_eq!(condition(&sql, vec![]), None, "more than 16 values");
    }
}

//! Which reads depend on rows rather than on their whole table: a `SELECT` of one table, with
//! no join and no subquery, whose `WHERE` conjunction compares an integer column with known
//! values (`id = 5`, `user_id IN (1, 2)`).

use sea_orm::{DbBackend, Statement as SeaStatement};
use sqlparser::ast::{SetExpr, Statement};

use super::schema::TableSchema;
use super::sql::{nested_queries, pins, resolve, single_table, Pin, Placeholders};

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
    /// pinned, else the first pinned integer column's; `None` (the whole table) when no pin
    /// resolves to at most [`MAX_CONDITION_VALUES`] integers.
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
            if !schema.is_integer(column) || sources.len() > MAX_CONDITION_VALUES {
                return None;
            }
            let mut values = resolve(sources, values).ok()?;
            values.sort_unstable();
            values.dedup();
            Some(Condition {
                primary: schema.primary_key.as_deref() == Some(column.as_str()),
                column: column.clone(),
                values,
            })
        };
        let mut found: Vec<Condition> = self.pins.iter().filter_map(usable).collect();
        let position = found.iter().position(|c| c.primary).unwrap_or(0);
        (!found.is_empty()).then(|| found.swap_remove(position))
    }
}

/// A read's condition: rows whose `column` holds one of `values`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Condition {
    /// The column compared (lower case).
    pub column: String,
    /// The values it is compared with (sorted, no `NULL`).
    pub values: Vec<i128>,
    /// Whether `column` is the table's primary key.
    pub primary: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Value;

    fn schema() -> TableSchema {
        TableSchema {
            table: "posts".into(),
            columns: vec![
                "id".into(),
                "title".into(),
                "user_id".into(),
                "votes".into(),
            ],
            integer_columns: vec!["id".into(), "user_id".into(), "votes".into()],
            ranges: vec![(-(1 << 31), (1 << 31) - 1); 3],
            primary_key: Some("id".into()),
            auto_increment: true,
            row_precise: true,
            ..TableSchema::default()
        }
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
                values: vec![3, 5],
                primary: true
            })
        );
        let found = condition("SELECT * FROM posts WHERE user_id = $1", vec![7i64.into()]);
        assert_eq!(
            found.map(|c| (c.column, c.values)),
            Some(("user_id".into(), vec![7]))
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

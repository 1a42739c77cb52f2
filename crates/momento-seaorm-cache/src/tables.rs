//! The tables a statement reads and writes, found by parsing its SQL for its dialect
//! (sqlparser), and memoized by statement text so the hit path parses nothing twice.
//!
//! Names are normalized to the unquoted, lower-cased last part (`"App"."Users"` → `users`), so
//! two spellings of one table always meet; two tables that differ only in case or schema share a
//! generation, which costs hit rate, never correctness.

use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::sync::Arc;

use sea_orm::DbBackend;
use sqlparser::ast::{ObjectName, Query, Statement as SqlStatement, Visit, Visitor};
use sqlparser::dialect::{Dialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

/// Memoized statements kept per cache.
const MEMO_CAPACITY: u64 = 10_000;

/// What a statement touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Touches {
    /// Reads these tables (FROM, JOINs, subqueries; CTE names left out).
    Reads(Arc<[String]>),
    /// Writes these tables (and reads others, which a write need not invalidate but does).
    Writes(Arc<[String]>),
    /// Changes nothing cached: transaction control, SET, SHOW, EXPLAIN, PRAGMA.
    Nothing,
    /// Could not be understood: a read is not cached; a write invalidates everything.
    Unknown,
}

/// Finds and memoizes what statements touch.
#[derive(Debug)]
pub(crate) struct TableIndex {
    memo: moka::sync::Cache<String, Touches>,
}

impl Default for TableIndex {
    fn default() -> Self {
        TableIndex {
            memo: moka::sync::Cache::new(MEMO_CAPACITY),
        }
    }
}

impl TableIndex {
    /// What `sql` touches, parsed once per distinct text.
    pub(crate) fn touches(&self, backend: DbBackend, sql: &str) -> Touches {
        if let Some(found) = self.memo.get(sql) {
            return found;
        }
        let found = classify(backend, sql);
        self.memo.insert(sql.to_owned(), found.clone());
        found
    }
}

/// Parses `sql` and says what it touches.
pub(crate) fn classify(backend: DbBackend, sql: &str) -> Touches {
    let dialect: Box<dyn Dialect> = match backend {
        DbBackend::MySql => Box::new(MySqlDialect {}),
        DbBackend::Sqlite => Box::new(SQLiteDialect {}),
        _ => Box::new(PostgreSqlDialect {}),
    };
    let Ok(statements) = Parser::parse_sql(dialect.as_ref(), sql) else {
        return Touches::Unknown;
    };
    let mut reads = true;
    let mut changes_nothing = true;
    let mut collector = Relations::default();
    for statement in &statements {
        match statement {
            SqlStatement::Query(_) => changes_nothing = false,
            SqlStatement::StartTransaction { .. }
            | SqlStatement::Commit { .. }
            | SqlStatement::Rollback { .. }
            | SqlStatement::Savepoint { .. }
            | SqlStatement::ReleaseSavepoint { .. }
            | SqlStatement::Set(_)
            | SqlStatement::ShowVariable { .. }
            | SqlStatement::ShowVariables { .. }
            | SqlStatement::Explain { .. }
            | SqlStatement::ExplainTable { .. } => {}
            SqlStatement::Pragma { value: None, .. } => {}
            SqlStatement::Drop { names, .. } => {
                reads = false;
                changes_nothing = false;
                for name in names {
                    let _ = collector.pre_visit_relation(name);
                }
            }
            _ => {
                reads = false;
                changes_nothing = false;
            }
        }
        let _ = statement.visit(&mut collector);
    }
    let tables: Arc<[String]> = collector.tables().into();
    match (changes_nothing, reads) {
        (true, _) => Touches::Nothing,
        (false, true) => Touches::Reads(tables),
        (false, false) if tables.is_empty() => Touches::Unknown,
        (false, false) => Touches::Writes(tables),
    }
}

/// Collects relation names and CTE names.
#[derive(Default)]
struct Relations {
    names: BTreeSet<String>,
    ctes: BTreeSet<String>,
}

impl Relations {
    fn tables(self) -> Vec<String> {
        self.names.difference(&self.ctes).cloned().collect()
    }
}

impl Visitor for Relations {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.ctes.insert(cte.alias.name.value.to_lowercase());
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
        if let Some(name) = relation.0.last().and_then(|part| part.as_ident()) {
            self.names.insert(name.value.to_lowercase());
        }
        ControlFlow::Continue(())
    }
}

/// The first table named after `FROM` at the top level of `sql`, for key labels; `None` if
/// there is none or it is a subquery.
pub(crate) fn main_table(sql: &str) -> Option<String> {
    let bytes = sql.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' | b'`' => i = skip_quoted(bytes, i),
            b'(' => {
                depth += 1;
                i += 1;
            }
            b')' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            _ if depth == 0 && is_keyword_at(bytes, i, b"FROM") => {
                return read_table(&sql[i + 4..]);
            }
            _ => i += 1,
        }
    }
    None
}

/// Index just past the quoted run starting at `start` (doubled quotes are escapes).
fn skip_quoted(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        if bytes[i] == b'\\' && quote == b'\'' {
            i += 1;
        }
        i += 1;
    }
    bytes.len()
}

fn is_keyword_at(bytes: &[u8], i: usize, keyword: &[u8]) -> bool {
    let end = i + keyword.len();
    end <= bytes.len()
        && bytes[i..end].eq_ignore_ascii_case(keyword)
        && (i == 0 || !is_ident_byte(bytes[i - 1]))
        && (end == bytes.len() || !is_ident_byte(bytes[end]))
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

/// Reads a possibly quoted, possibly schema-qualified table name at the start of `rest`.
fn read_table(rest: &str) -> Option<String> {
    let rest = rest.trim_start();
    let mut name = String::new();
    let mut chars = rest.chars().peekable();
    loop {
        match chars.peek().copied() {
            Some(q @ ('"' | '`')) => {
                chars.next();
                for c in chars.by_ref() {
                    if c == q {
                        break;
                    }
                    name.push(c);
                }
            }
            Some(c) if c.is_alphanumeric() || c == '_' || c == '$' => {
                while let Some(&c) = chars.peek() {
                    if !(c.is_alphanumeric() || c == '_' || c == '$') {
                        break;
                    }
                    name.push(c);
                    chars.next();
                }
            }
            _ => break,
        }
        if chars.peek() == Some(&'.') {
            name.push('.');
            chars.next();
        } else {
            break;
        }
    }
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads(backend: DbBackend, sql: &str) -> Vec<String> {
        match classify(backend, sql) {
            Touches::Reads(t) => t.to_vec(),
            other => panic!("{sql}: {other:?}"),
        }
    }

    fn writes(backend: DbBackend, sql: &str) -> Vec<String> {
        match classify(backend, sql) {
            Touches::Writes(t) => t.to_vec(),
            other => panic!("{sql}: {other:?}"),
        }
    }

    #[test]
    fn finds_the_main_table_in_each_dialect() {
        assert_eq!(
            main_table(r#"SELECT "users"."id" FROM "users" WHERE "users"."id" = $1"#).as_deref(),
            Some("users")
        );
        assert_eq!(
            main_table("SELECT `user_groups`.`id` FROM `user_groups` INNER JOIN `users`")
                .as_deref(),
            Some("user_groups")
        );
        assert_eq!(
            main_table(r#"SELECT x FROM "app"."users""#).as_deref(),
            Some("app.users")
        );
        assert_eq!(
            main_table("select a from t1 where b = 'FROM x'").as_deref(),
            Some("t1")
        );
        assert_eq!(
            main_table(r#"SELECT (SELECT 1 FROM a) AS "from", fromage FROM "b""#).as_deref(),
            Some("b")
        );
        assert_eq!(main_table("SELECT 1"), None);
    }

    #[test]
    fn reads_include_joins_and_subqueries_but_not_ctes() {
        let sql = r#"WITH recent AS (SELECT * FROM "orders") SELECT "users"."id" FROM "users"
            INNER JOIN "user_groups" ON 1 = 1
            WHERE "users"."id" IN (SELECT "user_id" FROM "App"."Payments") AND EXISTS (SELECT 1 FROM recent)"#;
        assert_eq!(
            reads(DbBackend::Postgres, sql),
            ["orders", "payments", "user_groups", "users"]
        );
        assert_eq!(
            reads(
                DbBackend::MySql,
                "SELECT `a`.`x` FROM `a` LEFT JOIN `b` ON `a`.`id` = `b`.`id`"
            ),
            ["a", "b"]
        );
    }

    #[test]
    fn writes_in_each_dialect() {
        assert_eq!(
            writes(
                DbBackend::Postgres,
                r#"INSERT INTO "users" ("name") VALUES ($1) RETURNING "id""#
            ),
            ["users"]
        );
        assert_eq!(
            writes(
                DbBackend::MySql,
                "UPDATE `users` SET `name` = ? WHERE `id` = ?"
            ),
            ["users"]
        );
        assert_eq!(
            writes(
                DbBackend::Sqlite,
                r#"DELETE FROM "users" WHERE "id" IN (SELECT "id" FROM "old")"#
            ),
            ["old", "users"]
        );
        assert_eq!(
            writes(DbBackend::Postgres, "TRUNCATE TABLE audit"),
            ["audit"]
        );
        assert_eq!(
            writes(DbBackend::Sqlite, "DROP TABLE IF EXISTS temp_stuff"),
            ["temp_stuff"]
        );
        assert_eq!(
            writes(DbBackend::MySql, "ALTER TABLE `users` ADD COLUMN `x` INT"),
            ["users"]
        );
        assert_eq!(
            writes(DbBackend::Postgres, "CREATE TABLE fresh (id INT)"),
            ["fresh"]
        );
    }

    #[test]
    fn control_statements_change_nothing_and_garbage_is_unknown() {
        for sql in [
            "BEGIN",
            "COMMIT",
            "ROLLBACK",
            "SAVEPOINT sp1",
            "RELEASE SAVEPOINT sp1",
        ] {
            assert_eq!(
                classify(DbBackend::Postgres, sql),
                Touches::Nothing,
                "{sql}"
            );
        }
        assert_eq!(
            classify(DbBackend::Postgres, "THIS IS NOT SQL"),
            Touches::Unknown
        );
        assert_eq!(
            classify(DbBackend::Postgres, "CALL refresh_everything()"),
            Touches::Unknown
        );
    }

    #[test]
    fn memoizes_by_text() {
        let index = TableIndex::default();
        let sql = r#"SELECT 1 FROM "users""#;
        assert_eq!(
            index.touches(DbBackend::Postgres, sql),
            index.touches(DbBackend::Postgres, sql)
        );
        assert_eq!(
            index.memo.get(sql),
            Some(Touches::Reads(vec!["users".to_owned()].into()))
        );
    }
}

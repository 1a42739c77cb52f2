//! `LIMIT 1` for a statement SeaORM built but no longer lets us change: what SeaORM's
//! `Selector::one` adds to its query before running it, written the way sea-query writes it
//! (` LIMIT ` and a bound `1` at the end), so the cached call runs the same SQL text and values
//! as the uncached one.

use sea_orm::{DbBackend, Statement, Value, Values};
use sqlparser::ast::{SetExpr, Statement as SqlStatement};
use sqlparser::dialect::{Dialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

/// `statement` with `LIMIT 1` when it is one plain `SELECT` whose text ends where sea-query
/// would write the limit (no limit, offset, locking clause or named window of its own);
/// otherwise unchanged (a loader of the first row then reads the first row of its result,
/// which is the same row).
pub(crate) fn limit_one(statement: Statement) -> Statement {
    if !ends_where_the_limit_goes(&statement) {
        return statement;
    }
    let mut values = statement.values.map(|v| v.0).unwrap_or_default();
    values.push(Value::BigUnsigned(Some(1)));
    let placeholder = match statement.db_backend {
        DbBackend::Postgres => format!("${}", values.len()),
        _ => "?".to_owned(),
    };
    Statement {
        sql: format!("{} LIMIT {placeholder}", statement.sql),
        values: Some(Values(values)),
        db_backend: statement.db_backend,
    }
}

fn ends_where_the_limit_goes(statement: &Statement) -> bool {
    let dialect: Box<dyn Dialect> = match statement.db_backend {
        DbBackend::MySql => Box::new(MySqlDialect {}),
        DbBackend::Sqlite => Box::new(SQLiteDialect {}),
        _ => Box::new(PostgreSqlDialect {}),
    };
    let Ok(parsed) = Parser::parse_sql(dialect.as_ref(), &statement.sql) else {
        return false;
    };
    let [SqlStatement::Query(query)] = parsed.as_slice() else {
        return false;
    };
    let SetExpr::Select(select) = query.body.as_ref() else {
        return false;
    };
    query.limit_clause.is_none()
        && query.fetch.is_none()
        && query.locks.is_empty()
        && select.named_window.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement(backend: DbBackend, sql: &str) -> Statement {
        Statement {
            sql: sql.to_owned(),
            values: Some(Values(vec![1i32.into()])),
            db_backend: backend,
        }
    }

    #[test]
    fn adds_a_bound_limit_like_sea_query() {
        let pg = limit_one(statement(
            DbBackend::Postgres,
            r#"SELECT "users"."id" FROM "users" WHERE "users"."id" > $1 ORDER BY "users"."id" ASC"#,
        ));
        assert_eq!(
            pg.sql,
            r#"SELECT "users"."id" FROM "users" WHERE "users"."id" > $1 ORDER BY "users"."id" ASC LIMIT $2"#
        );
        assert_eq!(
            pg.values,
            Some(Values(vec![1i32.into(), Value::BigUnsigned(Some(1))]))
        );
        let my = limit_one(statement(
            DbBackend::MySql,
            "SELECT `a` FROM `t` WHERE `b` = ?",
        ));
        assert_eq!(my.sql, "SELECT `a` FROM `t` WHERE `b` = ? LIMIT ?");
    }

    #[test]
    fn leaves_limits_offsets_locks_unions_and_garbage_alone() {
        for sql in [
            "SELECT a FROM t LIMIT $1",
            "SELECT a FROM t OFFSET $1",
            "SELECT a FROM t FOR UPDATE",
            "SELECT a FROM t UNION SELECT a FROM u",
            "NOT SQL AT ALL",
        ] {
            assert_eq!(limit_one(statement(DbBackend::Postgres, sql)).sql, sql);
        }
    }
}

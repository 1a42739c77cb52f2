//! `LIMIT 1` for a statement SeaORM built but no longer lets us change: what SeaORM's
//! `Selector::one` adds to its query before running it.

use sea_orm::{DbBackend, Statement};
use sqlparser::ast::{Expr, LimitClause, SetExpr, Statement as SqlStatement, Value};
use sqlparser::dialect::{Dialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

/// `statement` with `LIMIT 1` when it is one `SELECT` without a limit of its own; otherwise
/// unchanged (a loader of the first row then reads the first row of its result, which is the
/// same row).
pub(crate) fn limit_one(statement: Statement) -> Statement {
    let dialect: Box<dyn Dialect> = match statement.db_backend {
        DbBackend::MySql => Box::new(MySqlDialect {}),
        DbBackend::Sqlite => Box::new(SQLiteDialect {}),
        _ => Box::new(PostgreSqlDialect {}),
    };
    let Ok(mut parsed) = Parser::parse_sql(dialect.as_ref(), &statement.sql) else {
        return statement;
    };
    let [SqlStatement::Query(query)] = parsed.as_mut_slice() else {
        return statement;
    };
    if query.limit_clause.is_some() || !matches!(*query.body, SetExpr::Select(_)) {
        return statement;
    }
    query.limit_clause = Some(LimitClause::LimitOffset {
        limit: Some(Expr::value(Value::Number("1".into(), false))),
        offset: None,
        limit_by: vec![],
    });
    Statement {
        sql: parsed[0].to_string(),
        ..statement
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Values;

    fn statement(backend: DbBackend, sql: &str) -> Statement {
        Statement {
            sql: sql.to_owned(),
            values: Some(Values(vec![1i32.into()])),
            db_backend: backend,
        }
    }

    #[test]
    fn adds_limit_one_to_a_plain_select_and_keeps_its_placeholders() {
        let pg = limit_one(statement(
            DbBackend::Postgres,
            r#"SELECT "users"."id" FROM "users" WHERE "users"."id" > $1 ORDER BY "users"."id" ASC"#,
        ));
        assert_eq!(
            pg.sql,
            r#"SELECT "users"."id" FROM "users" WHERE "users"."id" > $1 ORDER BY "users"."id" ASC LIMIT 1"#
        );
        assert_eq!(pg.values, Some(Values(vec![1i32.into()])));
        let my = limit_one(statement(
            DbBackend::MySql,
            "SELECT `a` FROM `t` WHERE `b` = ?",
        ));
        assert_eq!(my.sql, "SELECT `a` FROM `t` WHERE `b` = ? LIMIT 1");
    }

    #[test]
    fn leaves_its_own_limits_unions_and_garbage_alone() {
        for sql in [
            "SELECT a FROM t LIMIT $1",
            "SELECT a FROM t UNION SELECT a FROM u",
            "NOT SQL AT ALL",
        ] {
            assert_eq!(limit_one(statement(DbBackend::Postgres, sql)).sql, sql);
        }
    }
}

//! The tables a statement reads and writes, found by parsing its SQL for its dialect
//! (sqlparser) and walking the AST, and memoized by statement text so the hit path parses
//! nothing twice.
//!
//! **The rule: classify a statement by what it can do, not by its first keyword; when unsure,
//! `Unknown`.** Taking a write for a read (or for nothing) leaves stale reads in the cache,
//! the worst outcome; taking anything for `Unknown` only invalidates everything (and the
//! statement is not cached). Every statement in the text is walked, with every statement nested
//! in it (data-modifying CTEs at any depth, `INSERT ... SELECT`, `EXPLAIN ANALYZE`), every
//! function it calls and every table it names.
//!
//! | Statement | Classification |
//! |---|---|
//! | `SELECT`, `VALUES`, `TABLE t`, set operations, also `FOR UPDATE` / `FOR SHARE`, calling only read-only built-ins (`COUNT`, `SUM`, `COALESCE`, `LOWER`, `CAST`, `now()`, JSON builders, ...) | `Reads` of every table named (CTE references left out); locking forms the parser rejects (`FOR NO KEY UPDATE`, MySQL's `LOCK IN SHARE MODE`): `Unknown` |
//! | `INSERT` (also `... ON CONFLICT DO UPDATE`, `... ON DUPLICATE KEY UPDATE`, `INSERT OR REPLACE`, `REPLACE INTO`), `UPDATE`, `DELETE`, `MERGE`, `SELECT ... INTO t` | `Writes` of the target(s) and every table read |
//! | any of those inside a `WITH`, also nested, also in `INSERT ... WITH ... SELECT` | `Writes`, as above |
//! | `TRUNCATE`, `ALTER TABLE` (and its new name), `ALTER VIEW`, `DROP TABLE` / `VIEW` / `INDEX`, `CREATE TABLE [AS SELECT]`, `CREATE VIEW`, `CREATE INDEX` (its table), `RENAME TABLE a TO b` (both), `REFRESH MATERIALIZED VIEW` | `Writes` of the named tables |
//! | `TRUNCATE ... CASCADE`, `DROP ... CASCADE`, `DROP SCHEMA` / `DATABASE` / others | `Unknown` (they reach tables they do not name) |
//! | `COPY t FROM ...` (PostgreSQL), `LOAD DATA ... INTO TABLE t` where it parses | `Writes(t)`; MySQL's `LOAD DATA INFILE` does not parse: `Unknown` |
//! | `COPY ... TO ...` | `Nothing` (an export; a query inside it is still walked); `COPY ... PROGRAM`: `Unknown` |
//! | several statements in one text | `Unknown` if any is; else `Writes` of every table any of them names if any writes; else `Reads` if any reads (`Nothing` if one calls an uncacheable built-in); else `Nothing` |
//! | `BEGIN` / `START TRANSACTION`, `COMMIT`, `ROLLBACK`, `SAVEPOINT`, `RELEASE`, `SET`, `RESET`, `USE`, `SHOW ...`, `DESCRIBE t`, `LOCK` / `UNLOCK TABLES`, `DEALLOCATE`, `DISCARD`, `LISTEN` / `UNLISTEN` / `NOTIFY`, `PREPARE` | `Nothing` |
//! | `EXPLAIN stmt` (also `EXPLAIN QUERY PLAN`) | `Nothing`: it does not run `stmt` |
//! | `EXPLAIN ANALYZE stmt`, `EXPLAIN (ANALYZE) stmt` | runs `stmt`: its `Writes` or `Unknown`; `Nothing` if it only reads (a plan is not rows to cache) |
//! | `PRAGMA x` (SQLite) | `Nothing`; `PRAGMA x = y` and `PRAGMA x(y)`: `Unknown` |
//! | `VACUUM`, `ANALYZE` | `Nothing` where the dialect parses them (no row a query sees changes); `Unknown` where it does not |
//! | a call to a function on neither built-in allow-list, anywhere (`SELECT my_func()`, `FROM my_func()`, `app.lower(x)`, `nextval`, `setval`, `set_config`), a user-defined operator | `Unknown` |
//! | a read calling an uncacheable built-in (`random()`, `RAND()`, `gen_random_uuid()`, `currval`, `LAST_INSERT_ID()`, `last_insert_rowid()`, `pg_advisory_lock`, `GET_LOCK`, `pg_sleep`) | `Nothing`: not cached, invalidates nothing (a write calling one is still `Writes`) |
//! | `CALL`, `DO`, `EXECUTE`, `CREATE FUNCTION` / `TRIGGER` / ..., any other statement | `Unknown` |
//! | anything that does not parse | `Unknown` |
//! | MariaDB/MySQL: any statement with an executable comment (`/*! ... */`, `/*M! ... */`) | `Unknown`: the server runs what a parser may skip |
//! | MariaDB/MySQL: modifiers after `UPDATE`/`DELETE`/`INSERT`/`REPLACE` (`LOW_PRIORITY`, `IGNORE`, `QUICK`, `DELAYED`, `HIGH_PRIORITY`) | taken out before parsing, so the table they modify is the one found |
//!
//! What the text cannot show is not seen here: triggers, rules, foreign-key cascades, views and
//! partitions write tables a statement does not name. The catalog (`crate::catalog`) adds them
//! before a write is invalidated.
//!
//! Names are normalized to the unquoted, lower-cased last part (`"App"."Users"` → `users`), so
//! two spellings of one table always meet; two tables that differ only in case or schema share a
//! generation, which costs hit rate, never correctness.

mod functions;
mod key_label;
mod keyword;
mod scan;
mod statement;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use sea_orm::DbBackend;
use sqlparser::ast::Statement;
use sqlparser::dialect::{Dialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

pub(crate) use key_label::main_table;
pub(crate) use keyword::{ends_transaction, has_executable_comment, has_modifiers, is_ddl};
pub(crate) use scan::normalize;
use scan::Scan;

/// Memoized statements kept per cache.
const MEMO_CAPACITY: u64 = 10_000;

/// What a statement touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Touches {
    /// Reads these tables (FROM, JOINs, subqueries; CTE names left out).
    Reads(Arc<[String]>),
    /// Writes these tables (and reads others, which a write need not invalidate but does).
    Writes(Arc<[String]>),
    /// Changes nothing cached, and is not cached: transaction control, SET, SHOW, EXPLAIN,
    /// PRAGMA, a read calling `random()` or taking an advisory lock.
    Nothing,
    /// Could not be understood: a read is not cached; a write invalidates everything.
    Unknown,
}

/// Finds and memoizes what statements touch.
#[derive(Debug)]
pub(crate) struct TableIndex {
    /// Keyed by the SQL text, hashed on every read: foldhash, not SipHash.
    memo: moka::sync::Cache<String, Touches, foldhash::fast::RandomState>,
}

impl Default for TableIndex {
    fn default() -> Self {
        TableIndex {
            memo: moka::sync::Cache::builder()
                .max_capacity(MEMO_CAPACITY)
                .build_with_hasher(foldhash::fast::RandomState::default()),
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

/// Parses `sql` and says what it touches (see the module documentation).
pub(crate) fn classify(backend: DbBackend, sql: &str) -> Touches {
    if has_executable_comment(backend, sql) {
        return Touches::Unknown;
    }
    let Some(mut statements) = parse_statements(backend, sql) else {
        return Touches::Unknown;
    };
    let mut scan = Scan::default();
    for statement in &mut statements {
        if scan.statement(statement).is_break() {
            return Touches::Unknown;
        }
    }
    scan.touches()
}

/// The sqlparser dialect of `backend`.
pub(crate) fn dialect(backend: DbBackend) -> Box<dyn Dialect> {
    match backend {
        DbBackend::MySql => Box::new(MySqlDialect {}),
        DbBackend::Sqlite => Box::new(SQLiteDialect {}),
        _ => Box::new(PostgreSqlDialect {}),
    }
}

/// Every statement in `sql` parsed for `backend`'s dialect; `None` if any does not parse.
pub(crate) fn parse_statements(backend: DbBackend, sql: &str) -> Option<Vec<Statement>> {
    let sql = keyword::without_modifiers(backend, sql);
    parse(dialect(backend).as_ref(), &sql).ok()
}

/// Every statement in `sql`, which must be separated by `;`. Stricter than
/// `Parser::parse_sql`, which stops at an `END` after a statement and ignores the rest.
fn parse(dialect: &dyn Dialect, sql: &str) -> Result<Vec<Statement>, ParserError> {
    let mut parser = Parser::new(dialect).try_with_sql(sql)?;
    let mut statements = Vec::new();
    loop {
        let mut delimited = statements.is_empty();
        while parser.consume_token(&Token::SemiColon) {
            delimited = true;
        }
        if parser.peek_token_ref().token == Token::EOF {
            return Ok(statements);
        }
        if !delimited {
            return Err(ParserError::ParserError(
                "expected `;` after a statement".into(),
            ));
        }
        statements.push(parser.parse_statement()?);
    }
}

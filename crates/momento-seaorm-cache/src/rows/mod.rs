//! Row and condition granularity: which rows a read depends on and which rows a write changed,
//! so that a write to one row leaves reads of other rows cached.
//!
//! Only **integer columns** of base tables the database's catalog ([`crate::catalog`]) shows
//! to be precise (no trigger, rule, generated column, conflict clause, partition or inheritance
//! family) are tracked: integers compare exactly in every dialect, where strings meet
//! collations (`'A' = 'a'` in MySQL) and floats meet rounding. A statement is trusted only when
//! every column it names is in the catalog and its text reads the same to the parser and to
//! the server (no MySQL executable comment, modifier, `||` or `&&`; only `?` placeholders on
//! SQLite and MySQL, `$n` on PostgreSQL).
//!
//! | Read | Depends on (besides `gen-all`) |
//! |---|---|
//! | one table, no join, no subquery, `WHERE` conjunction with `pk = v` / `pk IN (...)` | `#*`, `#pk=v` for each `v` |
//! | the same with another integer column `c` (`user_id = 7`), at most 16 values | `#*`, `#c`, `#c=v` for each `v` |
//! | anything else (ranges, joins, aggregates over the table, raw SQL of an unknown table) | the table generation |
//!
//! | Write | Bumps (besides the table generation, always) |
//! |---|---|
//! | `INSERT`/`UPDATE`/`DELETE` of one table whose rows are known | per integer column `c`: `#c=v` for every value a changed row held before or holds after, when both are known; else `#c` |
//! | the same where the primary key's values, or no column's, are known; more than 64 scopes; upserts, `REPLACE`, joins, unknown schema | `#*` |
//!
//! Known values come from the `WHERE` conjunction (`id = 5` pins the old value), assignments of
//! literals or bound integers (new values), columns not assigned (unchanged: old = new), a
//! `RETURNING` clause (the rows' values after, or before for `DELETE`), `VALUES` rows and the id
//! a one-row insert generated. See docs/rows.md for why no read misses a
//! write it follows.

mod read;
mod schema;
mod sql;
mod write;

use std::collections::BTreeSet;
use std::sync::Arc;

use sea_orm::{DbBackend, Statement};

pub(crate) use read::Condition;
pub(crate) use schema::{integer_value, TableSchema};
pub(crate) use write::{Outcome, Scope};

use crate::catalog::Snapshot;
use read::ReadShape;
use write::WriteShape;

/// Parsed statements kept per cache, for reads and for writes each.
const MEMO_CAPACITY: u64 = 10_000;

/// The row shapes of statements, memoized by text.
#[derive(Debug)]
pub(crate) struct RowIndex {
    reads: moka::sync::Cache<String, Option<Arc<ReadShape>>>,
    writes: moka::sync::Cache<String, Option<Arc<WriteShape>>>,
}

impl Default for RowIndex {
    fn default() -> Self {
        RowIndex {
            reads: moka::sync::Cache::new(MEMO_CAPACITY),
            writes: moka::sync::Cache::new(MEMO_CAPACITY),
        }
    }
}

impl RowIndex {
    /// The condition a read of `statement` depends on, with its table; `None` when it depends
    /// on whole tables.
    pub(crate) fn condition(
        &self,
        statement: &Statement,
        catalog: &Snapshot,
    ) -> Option<(Arc<TableSchema>, Condition)> {
        let shape = match self.reads.get(statement.sql.as_str()) {
            Some(shape) => shape,
            None => {
                let shape = ReadShape::parse(statement.db_backend, &statement.sql).map(Arc::new);
                self.reads.insert(statement.sql.clone(), shape.clone());
                shape
            }
        }?;
        let schema = precise(catalog, shape.table())?;
        let condition = shape.condition(schema, statement)?;
        Some((schema.clone(), condition))
    }

    /// The `SELECT` that shows, in the transaction of an update of `sql` and after it, what its
    /// rows hold in the integer columns it does not show (see `WriteShape::lookup`).
    pub(crate) fn lookup(
        &self,
        backend: DbBackend,
        sql: &str,
        values: &[sea_orm::Value],
        catalog: &Snapshot,
    ) -> Option<String> {
        let shape = self.write_shape(backend, sql)?;
        shape.lookup(precise(catalog, shape.table())?, values, backend)
    }

    fn write_shape(&self, backend: DbBackend, sql: &str) -> Option<Arc<WriteShape>> {
        match self.writes.get(sql) {
            Some(shape) => shape,
            None => {
                let shape = WriteShape::parse(backend, sql).map(Arc::new);
                self.writes.insert(sql.to_owned(), shape.clone());
                shape
            }
        }
    }

    /// The table a write of `sql` changed and the scopes of its rows it changed; `None` when
    /// its rows are not known (its tables' generations and `#*` are then bumped).
    pub(crate) fn written(
        &self,
        backend: DbBackend,
        sql: &str,
        outcome: Outcome<'_>,
        catalog: &Snapshot,
    ) -> Option<(String, BTreeSet<Scope>)> {
        let shape = self.write_shape(backend, sql)?;
        let schema = precise(catalog, shape.table())?;
        Some((shape.table().to_owned(), shape.scopes(schema, outcome)))
    }
}

/// `table`'s schema, if the catalog shows its rows can be tracked.
fn precise<'a>(catalog: &'a Snapshot, table: &str) -> Option<&'a Arc<TableSchema>> {
    catalog.table(table).filter(|schema| schema.row_precise)
}

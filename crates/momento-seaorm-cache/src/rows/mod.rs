//! Row and condition granularity: which rows a read depends on and which rows a write changed,
//! so that a write to one row leaves reads of other rows cached.
//!
//! Only columns of base tables the database's catalog ([`crate::catalog`]) shows to be precise
//! (no trigger, rule, generated column, conflict clause, partition or inheritance family) are
//! tracked, and only those whose values compare in a way reproduced here: integers, UUIDs, and
//! text in collations that compare exactly ([`crate::catalog::Kind`]); every value read or
//! written is made canonical first (`value.rs`: values the database compares equal share one
//! form). Folding collations (`'A' = 'a'` in MariaDB's default one) stay at column level. A statement is trusted only when
//! every column it names is in the catalog and its text reads the same to the parser and to
//! the server (no MySQL executable comment, modifier, `||` or `&&`; only `?` placeholders on
//! SQLite and MySQL, `$n` on PostgreSQL).
//!
//! | Read | Depends on (besides `gen-all`) |
//! |---|---|
//! | one table, no join, no subquery, `WHERE` conjunction with `pk = v` / `pk IN (...)` | `#*`, `#pk=v` for each `v` |
//! | the same with another tracked column `c` (`user_id = 7`, `email = 'a@x'`), at most 16 values | `#*`, `#c`, `#c=v` for each `v` |
//! | the same pinning every column of a composite primary key | `#*`, `#c` per key column, `#*a*b=va*vb` per key |
//! | anything else (ranges, joins, aggregates over the table, raw SQL of an unknown table) | the table generation |
//!
//! | Write | Bumps (besides the table generation, always) |
//! |---|---|
//! | `INSERT`/`UPDATE`/`DELETE` of one table whose rows are known | per tracked column `c`: `#c=v` for every value a changed row held before or holds after, when both are known; else `#c`; the composite keys those values make |
//! | the same where the primary key's values, or no column's, are known; more than 64 scopes; upserts, `REPLACE`, joins, unknown schema | `#*` |
//!
//! Known values come from the `WHERE` conjunction (`id = 5` pins the old value), assignments of
//! literals or bound values (new values), columns not assigned (unchanged: old = new), a
//! `RETURNING` clause (the rows' values after, or before for `DELETE`), `VALUES` rows and the id
//! a one-row insert generated. See docs/rows.md for why no read misses a
//! write it follows.

mod change;
mod read;
mod schema;
mod sql;
mod value;
mod write;

use std::collections::BTreeSet;
use std::sync::Arc;

use sea_orm::{DbBackend, Statement};

// Used by change capture (src/invalidator/), which bumps what the statement path would.
#[allow(unused_imports)]
pub(crate) use change::{row_change, RowImage};
pub(crate) use read::Condition;
pub(crate) use schema::{tracked_value, TableSchema};
pub(crate) use value::RowValue;
pub(crate) use write::{Outcome, Scope};

use crate::catalog::Snapshot;
use read::ReadShape;
use write::WriteShape;

/// Parsed statements kept per cache, for reads and for writes each.
const MEMO_CAPACITY: u64 = 10_000;

/// A memo keyed by SQL text, hashed on every statement: foldhash, not SipHash.
type ByText<V> = moka::sync::Cache<String, V, foldhash::fast::RandomState>;

/// The row shapes of statements, memoized by text.
#[derive(Debug)]
pub(crate) struct RowIndex {
    reads: ByText<Option<Arc<ReadShape>>>,
    writes: ByText<Option<Arc<WriteShape>>>,
}

fn by_text<V: Clone + Send + Sync + 'static>() -> ByText<V> {
    moka::sync::Cache::builder()
        .max_capacity(MEMO_CAPACITY)
        .build_with_hasher(foldhash::fast::RandomState::default())
}

impl Default for RowIndex {
    fn default() -> Self {
        RowIndex {
            reads: by_text(),
            writes: by_text(),
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
    /// rows hold in the tracked columns it does not show (see `WriteShape::lookup`).
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

/// The `posts` table the unit tests of this module share: integer `id` (key), `user_id` and
/// `votes` tracked, `title` not.
#[cfg(test)]
pub(crate) fn test_posts_schema() -> TableSchema {
    TableSchema {
        table: "posts".into(),
        columns: vec![
            "id".into(),
            "title".into(),
            "user_id".into(),
            "votes".into(),
        ],
        tracked: ["id", "user_id", "votes"]
            .map(|c| {
                (
                    c.to_owned(),
                    crate::catalog::Kind::integer("int", false).unwrap(),
                )
            })
            .into(),
        primary_key: Some("id".into()),
        auto_increment: true,
        row_precise: true,
        ..TableSchema::default()
    }
}

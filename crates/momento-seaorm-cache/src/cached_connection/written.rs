//! What a write bumps: the statement's tables as generation keys, refined into the scopes of
//! the rows it changed once it has run (`rows`), collected per statement or per transaction.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use sea_orm::{DbBackend, DbErr, ExecResult, QueryResult, Statement, Values};

use crate::cache::ModelCache;
use crate::catalog::Snapshot;
use crate::report::{InvalidationCause, InvalidationScope};
use crate::rows::Outcome;
use crate::tables::Touches;

/// What a statement or a transaction wrote: the generation keys to bump.
#[derive(Debug, Default, Clone)]
pub(super) struct Written {
    /// Keys of statements that have run.
    keys: BTreeSet<String>,
    /// Whole-table keys of statements still running (or dropped while running), with a count:
    /// a statement's precise keys replace them only once it has run.
    pending: BTreeMap<String, usize>,
    /// Every table written, for when there are too many keys to bump one by one.
    tables: BTreeSet<String>,
    everything: bool,
    /// DDL ran: the catalog is read again after the commit.
    schema_changed: bool,
}

/// A transaction that wrote more row keys than this bumps its tables instead.
const MAX_KEYS_PER_BUMP: usize = 256;

impl Written {
    pub(super) fn merge(&mut self, other: Written) {
        self.keys.extend(other.keys);
        self.keys.extend(other.pending.into_keys());
        self.tables.extend(other.tables);
        self.everything |= other.everything;
        self.schema_changed |= other.schema_changed;
    }

    /// Notes that DDL ran.
    pub(super) fn changed_schema(&mut self) {
        self.schema_changed = true;
    }

    pub(super) fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.pending.is_empty() && !self.everything && !self.schema_changed
    }

    /// Notes, before a statement runs, what it bumps if its rows cannot be known.
    pub(super) fn start(&mut self, touched: &Touched) {
        match touched {
            Touched::Everything => self.everything = true,
            Touched::Tables(tables, coarse) => {
                self.tables.extend(tables.iter().cloned());
                for key in coarse {
                    *self.pending.entry(key.clone()).or_default() += 1;
                }
            }
            Touched::Nothing => {}
        }
    }

    /// Replaces what [`start`](Self::start) noted by what the statement turned out to bump.
    pub(super) fn finish(&mut self, touched: &Touched, keys: Vec<String>) {
        if let Touched::Tables(_, coarse) = touched {
            for key in coarse {
                if let Some(count) = self.pending.get_mut(key) {
                    *count -= 1;
                    if *count == 0 {
                        self.pending.remove(key);
                    }
                }
            }
        }
        self.keys.extend(keys);
    }

    /// Gives new generations to what was written, in one batch.
    pub(super) async fn invalidate(self, cache: &ModelCache) {
        if self.schema_changed {
            cache.catalog().expire_all();
        }
        if self.everything {
            return cache.bump_all(InvalidationCause::Write).await;
        }
        let mut keys = self.keys;
        keys.extend(self.pending.into_keys());
        let tables: Vec<String> = self.tables.into_iter().collect();
        if keys.len() > MAX_KEYS_PER_BUMP {
            return cache.invalidate_tables(&tables).await;
        }
        if !keys.is_empty() {
            for table in &tables {
                // Rows: reads pinned to other rows stay cached; with the table's keys, none do.
                let wide = cache.table_keys(std::slice::from_ref(table));
                let scope = match wide.iter().all(|k| keys.contains(k)) {
                    true => InvalidationScope::Table,
                    false => InvalidationScope::Rows,
                };
                let table = std::slice::from_ref(table);
                cache.note_invalidation(InvalidationCause::Write, scope, Some(table));
            }
            cache.invalidate_keys(keys.into_iter().collect()).await;
        }
    }
}

/// What a statement touches, as generation keys.
#[derive(Debug)]
pub(super) enum Touched {
    /// Writes these tables; bumps these keys if its rows are not known.
    Tables(Arc<[String]>, Vec<String>),
    /// Not understood: bumps everything.
    Everything,
    /// Writes nothing.
    Nothing,
}

impl Touched {
    /// What `sql` touches: the tables it names and, where the catalog has them, every table
    /// the catalog relates to them (views, base tables, partitions, parents, children,
    /// cascades). A write that names a table the catalog does not have (a name the parser
    /// made up from a modifier, a temporary table), that fires triggers or rules, or that runs
    /// while no catalog is held (before the first read, after DDL, while it cannot be read)
    /// touches everything; DDL names tables that need not exist yet.
    pub(super) fn of(
        cache: &ModelCache,
        backend: DbBackend,
        sql: &str,
        catalog: Option<&Snapshot>,
    ) -> Touched {
        let tables = match cache.touches(backend, sql) {
            Touches::Writes(tables) => tables,
            Touches::Unknown => return Touched::Everything,
            Touches::Reads(_) | Touches::Nothing => return Touched::Nothing,
        };
        let ddl = crate::tables::is_ddl(backend, sql);
        let Some(catalog) = catalog else {
            // Without the catalog nothing shows what else the write reaches (triggers, rules,
            // views, cascades): everything, except DDL, which fires none of those.
            if !ddl {
                return Touched::Everything;
            }
            let coarse = cache.table_keys(&tables);
            return Touched::Tables(tables, coarse);
        };
        let mut all: BTreeSet<String> = tables.iter().cloned().collect();
        for table in tables.iter() {
            match catalog.table(table) {
                Some(schema) if schema.writes_elsewhere && !ddl => return Touched::Everything,
                Some(schema) => all.extend(schema.related.iter().cloned()),
                None if ddl => {}
                None => return Touched::Everything,
            }
        }
        let all: Vec<String> = all.into_iter().collect();
        let coarse = cache.table_keys(&all);
        Touched::Tables(all.into(), coarse)
    }

    /// The keys the statement bumps now that it has run: its rows' scopes and the other
    /// tables' keys when its rows are known, else every table's keys.
    pub(super) fn keys(
        &self,
        cache: &ModelCache,
        backend: DbBackend,
        sql: &str,
        ran: Option<Outcome<'_>>,
        catalog: Option<&Snapshot>,
    ) -> Vec<String> {
        let Touched::Tables(tables, coarse) = self else {
            return Vec::new();
        };
        let written = ran
            .zip(catalog)
            .and_then(|(outcome, catalog)| cache.rows().written(backend, sql, outcome, catalog));
        let Some((table, scopes)) = written else {
            return coarse.clone();
        };
        let others: Vec<String> = tables.iter().filter(|t| **t != table).cloned().collect();
        let mut keys = cache.row_keys(&table, &scopes);
        keys.extend(cache.table_keys(&others));
        keys
    }
}

/// What a statement's result shows of the rows it wrote.
pub(super) trait Ran {
    fn rows(&self) -> Option<&[QueryResult]> {
        None
    }

    /// Whether [`rows`](Self::rows) are all the statement returned, not only the first.
    fn all_rows(&self) -> bool {
        false
    }

    fn inserted_id(&self, _backend: DbBackend) -> Option<u64> {
        None
    }

    /// The rows as the statement left them, read after it in its transaction.
    fn current(&self) -> Option<&[QueryResult]> {
        None
    }
}

impl Ran for ExecResult {
    fn inserted_id(&self, backend: DbBackend) -> Option<u64> {
        // PostgreSQL has no such id (SeaORM panics if asked); a one-row insert's only.
        let has_id = matches!(backend, DbBackend::MySql | DbBackend::Sqlite);
        (has_id && self.rows_affected() == 1)
            .then(|| self.last_insert_id())
            .filter(|id| *id > 0)
    }
}

impl Ran for Option<QueryResult> {
    fn rows(&self) -> Option<&[QueryResult]> {
        Some(self.as_slice())
    }
}

impl Ran for Vec<QueryResult> {
    fn rows(&self) -> Option<&[QueryResult]> {
        Some(self.as_slice())
    }

    fn all_rows(&self) -> bool {
        true
    }
}

/// A result that shows nothing of the rows (a stream not yet read).
pub(super) struct Opaque<T>(pub T);

impl<T> Ran for Opaque<T> {}

/// What `result` shows of the rows a statement with `values` wrote.
pub(super) fn outcome<'a, T: Ran>(
    result: &'a Result<T, DbErr>,
    values: &'a Option<Values>,
    backend: DbBackend,
) -> Option<Outcome<'a>> {
    let ran = result.as_ref().ok()?;
    Some(Outcome {
        values: values.as_ref().map(|v| v.0.as_slice()).unwrap_or(&[]),
        rows: ran.rows(),
        all_rows: ran.all_rows(),
        current: ran.current(),
        inserted_id: ran.inserted_id(backend),
        mysql: backend == DbBackend::MySql,
    })
}

/// An update's result, and its rows' integer columns as it left them (read in its transaction).
pub(super) struct LookedUp(pub ExecResult, pub Option<Vec<QueryResult>>);

impl Ran for LookedUp {
    fn inserted_id(&self, backend: DbBackend) -> Option<u64> {
        self.0.inserted_id(backend)
    }

    fn current(&self) -> Option<&[QueryResult]> {
        self.1.as_deref()
    }
}

/// The `SELECT` that shows what an update of `stmt` leaves in its rows' integer columns, where
/// it is worth a read in the update's transaction: on MySQL/MariaDB and SQLite, whose SeaORM
/// updates return no rows (and where a failed read does not abort the transaction).
pub(super) fn lookup(
    cache: &ModelCache,
    backend: DbBackend,
    stmt: &Statement,
    catalog: Option<&Snapshot>,
) -> Option<Statement> {
    if !matches!(backend, DbBackend::MySql | DbBackend::Sqlite) {
        return None;
    }
    let values = stmt.values.as_ref().map(|v| v.0.as_slice()).unwrap_or(&[]);
    let select = cache.rows().lookup(backend, &stmt.sql, values, catalog?)?;
    Some(Statement::from_string(backend, select))
}

//! What a batch of changes bumps, row by row where the change shows its rows: the scopes the
//! statement path bumps for the same change ([`row_change`]), made into generation keys the
//! way it makes them ([`ModelCache::row_keys`]), for tables the catalog ([`crate::catalog`],
//! the snapshot the statement path uses) shows row-precise; whole tables for the rest.
//!
//! ```text
//! change of table t with before/after images ─► t row-precise in the catalog?
//!     yes ─► row_change(schema, before, after): t's generation + its rows' scopes
//!     no (trigger, rule, view, partition, generated column, not in the catalog) ─► t's table keys
//! change without images (TRUNCATE, no tuple data, not decodable) ─► t's table keys
//! t also reached from another change (a view, an ancestor, a cascade) ─► t's table keys
//! more than MAX_ROW_KEYS row keys in the batch ─► every table's table keys
//! ```

use std::collections::{BTreeMap, BTreeSet};

use crate::cache::ModelCache;
use crate::rows::{integer_value, Scope, TableSchema};

/// A row as a change shows it: column (lower case) → value. Columns not known are absent.
pub(crate) type RowImage = BTreeMap<String, sea_orm::Value>;

// TEMPORARY until rows-keys' `rows::row_change` is merged: integer columns only.
fn row_change(
    schema: &TableSchema,
    before: Option<&RowImage>,
    after: Option<&RowImage>,
) -> BTreeSet<Scope> {
    let mut scopes = BTreeSet::new();
    for column in &schema.integer_columns {
        let mut known = true;
        for image in [before, after].into_iter().flatten() {
            match image.get(column).map(integer_value) {
                Some(Ok(Some(v))) => {
                    scopes.insert(Scope::Value(column.clone(), v));
                }
                Some(Ok(None)) => {}
                _ => known = false,
            }
        }
        if !known {
            if schema.primary_key.as_ref() == Some(column) {
                return BTreeSet::from([Scope::AnyRow]);
            }
            scopes.insert(Scope::Column(column.clone()));
        }
    }
    scopes
}

/// A batch that bumps more row keys than this bumps its tables instead (the statement path's
/// bound per transaction).
pub(crate) const MAX_ROW_KEYS: usize = 256;

/// The rows and tables a batch of committed changes touched, by generation name.
#[derive(Debug, Default)]
pub(crate) struct RowBumps {
    /// Tables whose every change in the batch showed its rows: the scopes they changed.
    precise: BTreeMap<String, BTreeSet<Scope>>,
    /// Tables with a change whose rows are not known.
    coarse: BTreeSet<String>,
}

impl RowBumps {
    /// A change of `table` (a generation name) from `before` to `after` (`None`: no row, as
    /// before an insert or after a delete); `schema` is the table's in the catalog.
    pub(crate) fn change(
        &mut self,
        table: &str,
        schema: Option<&TableSchema>,
        before: Option<&RowImage>,
        after: Option<&RowImage>,
    ) {
        let precise = schema.filter(|s| s.row_precise && !s.view && s.table == table);
        match precise {
            Some(schema) if !self.coarse.contains(table) => {
                let scopes = row_change(schema, before, after);
                self.precise
                    .entry(table.to_owned())
                    .or_default()
                    .extend(scopes);
            }
            _ => self.table(table),
        }
    }

    /// A change of `table` whose rows are not known.
    pub(crate) fn table(&mut self, table: &str) {
        self.precise.remove(table);
        self.coarse.insert(table.to_owned());
    }

    /// Whether every change of `table` so far showed its rows.
    pub(crate) fn is_precise(&self, table: &str) -> bool {
        self.precise.contains_key(table)
    }

    /// Adds `other`'s changes (a transaction committed into the batch).
    pub(crate) fn append(&mut self, other: &mut RowBumps) {
        for table in std::mem::take(&mut other.coarse) {
            self.table(&table);
        }
        for (table, scopes) in std::mem::take(&mut other.precise) {
            if !self.coarse.contains(&table) {
                self.precise.entry(table).or_default().extend(scopes);
            }
        }
    }

    /// The generation keys to bump, with `tables` the generation names reached at table level
    /// (every table changed or reached, less the row-precise ones reached only by their own
    /// row changes).
    pub(crate) fn keys(&self, cache: &ModelCache, tables: &BTreeSet<String>) -> Vec<String> {
        let mut whole: BTreeSet<String> = tables.clone();
        whole.extend(self.coarse.iter().cloned());
        let mut keys = Vec::new();
        for (table, scopes) in &self.precise {
            if !whole.contains(table) {
                keys.extend(cache.row_keys(table, scopes));
            }
        }
        if keys.len() > MAX_ROW_KEYS {
            whole.extend(self.precise.keys().cloned());
            keys.clear();
        }
        let whole: Vec<String> = whole.into_iter().collect();
        keys.extend(cache.table_keys(&whole));
        keys
    }

    /// How many tables were bumped row by row (for logs).
    pub(crate) fn precise_tables(&self) -> usize {
        self.precise.len()
    }
}

/// A UUID as a change shows it (text), as bound values hold it.
pub(crate) fn uuid_value(text: Option<&str>) -> sea_orm::Value {
    sea_orm::Value::String(text.map(str::to_lowercase))
}

/// The primary key's columns of `schema` (lower case; empty when it has none the catalog
/// shows).
pub(crate) fn key_columns(schema: &TableSchema) -> Vec<String> {
    schema.primary_key.iter().cloned().collect()
}

/// A SeaORM connection to `url` for reading the table schemas through the statement path's
/// catalog; `None` (changes then bump whole tables) when it cannot be opened.
pub(crate) async fn connect(url: &str) -> Option<sea_orm::DatabaseConnection> {
    let mut options = sea_orm::ConnectOptions::new(url.to_owned());
    options
        .max_connections(1)
        .min_connections(0)
        .sqlx_logging(false);
    match sea_orm::Database::connect(options).await {
        Ok(db) => Some(db),
        Err(error) => {
            tracing::warn!(%error, "cannot read table schemas: changes invalidate whole tables");
            None
        }
    }
}

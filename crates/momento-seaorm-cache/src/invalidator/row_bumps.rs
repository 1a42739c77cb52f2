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
//! more than MAX_ROW_KEYS row keys in the batch ─► every table's table keys (a backlog of a few
//!     thousand rows, after a cache outage, stays row by row: sent in sets of BUMP_CHUNK keys)
//! ```

use std::collections::{BTreeMap, BTreeSet};

use crate::cache::ModelCache;
use crate::rows::{row_change, Scope, TableSchema};

pub(crate) use crate::rows::RowImage;

/// A batch that bumps more row keys than this bumps its tables instead. High enough that the
/// backlog of a cache outage of some seconds stays row by row: bumping its tables instead would
/// empty every cached read of them at once.
pub(crate) const MAX_ROW_KEYS: usize = 4096;

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

/// A UUID as a change shows it (text), as a bound value holds it; `None` when it is no UUID.
pub(crate) fn uuid_value(text: Option<&str>) -> Option<sea_orm::Value> {
    match text {
        None => Some(sea_orm::Value::Uuid(None)),
        Some(text) => sea_orm::prelude::Uuid::parse_str(text)
            .ok()
            .map(|id| sea_orm::Value::Uuid(Some(id))),
    }
}

/// The primary key's columns of `schema` (lower case; empty when it has none the catalog
/// shows).
pub(crate) fn key_columns(schema: &TableSchema) -> Vec<String> {
    match &schema.primary_key {
        Some(key) => vec![key.clone()],
        None => schema.key_columns.clone(),
    }
}

/// The connection the table schemas are read through (the statement path's catalog) and the
/// schemas (PostgreSQL) or the database (MariaDB) that catalog describes, lower case: changes
/// elsewhere bump their tables.
pub(crate) struct SchemaSource {
    pub(crate) db: sea_orm::DatabaseConnection,
    pub(crate) covers: BTreeSet<String>,
}

/// A SeaORM connection to `url` for reading the table schemas, scoped to the one followed
/// schema (PostgreSQL `search_path`) or database (MariaDB) when there is one; `None` (changes
/// then bump whole tables) when it cannot be opened.
pub(crate) async fn connect(
    url: &str,
    backend: sea_orm::DbBackend,
    followed: Option<&BTreeSet<String>>,
) -> Option<SchemaSource> {
    use sea_orm::ConnectionTrait;
    let only = followed
        .filter(|f| f.len() == 1)
        .and_then(|f| f.iter().next());
    let url = match (backend, only) {
        (sea_orm::DbBackend::MySql, Some(db)) => with_database(url, db),
        _ => url.to_owned(),
    };
    let mut options = sea_orm::ConnectOptions::new(url);
    options
        .max_connections(1)
        .min_connections(0)
        .sqlx_logging(false);
    if let (sea_orm::DbBackend::Postgres, Some(schema)) = (backend, only) {
        options.set_schema_search_path(format!("\"{}\"", schema.replace('"', "\"\"")));
    }
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            "SELECT lower(s) AS s FROM unnest(current_schemas(false)) AS s"
        }
        _ => "SELECT LOWER(DATABASE()) AS s",
    };
    let opened = async {
        let db = sea_orm::Database::connect(options).await?;
        let statement = sea_orm::Statement::from_string(backend, sql);
        let rows = db.query_all_raw(statement).await?;
        let covers = rows
            .iter()
            .filter_map(|r| r.try_get::<Option<String>>("", "s").ok().flatten())
            .collect();
        Ok::<_, sea_orm::DbErr>(SchemaSource { db, covers })
    };
    match opened.await {
        Ok(source) => Some(source),
        Err(error) => {
            tracing::warn!(%error, "cannot read table schemas: changes invalidate whole tables");
            None
        }
    }
}

/// `url` with its database (the path) replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let query = tail.find('?').map_or("", |at| &tail[at..]);
    format!("{scheme}://{authority}/{db}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_backlog_of_a_thousand_rows_is_bumped_row_by_row() {
        let cache = ModelCache::builder(crate::MemoryBackend::new())
            .build()
            .unwrap();
        let schema = crate::rows::test_posts_schema();
        let image = |id: i64, votes: i64| -> RowImage {
            [("id", id), ("user_id", 7), ("votes", votes)]
                .into_iter()
                .map(|(c, v)| (c.to_owned(), sea_orm::Value::BigInt(Some(v))))
                .collect()
        };
        let mut bumps = RowBumps::default();
        for id in 1..=1000 {
            bumps.change(
                "posts",
                Some(&schema),
                Some(&image(id, 0)),
                Some(&image(id, 1)),
            );
        }
        let keys = bumps.keys(&cache, &BTreeSet::new());
        let any_row = cache.table_keys(&["posts".to_owned()]);
        assert!(
            !keys.iter().any(|k| any_row[1..].contains(k)),
            "a backlog widened to the whole table"
        );
        assert!(keys.len() > 1000, "every row's key: {}", keys.len());
        assert!(
            keys.iter().any(|k| k.ends_with("#id=1000")),
            "{:?}",
            &keys[..4]
        );
    }

    #[test]
    fn the_followed_database_replaces_the_urls() {
        assert_eq!(
            with_database("mysql://root@127.0.0.1:3306/test?ssl-mode=disabled", "app"),
            "mysql://root@127.0.0.1:3306/app?ssl-mode=disabled"
        );
        assert_eq!(with_database("mysql://h", "app"), "mysql://h/app");
        assert_eq!(with_database("mysql://h?x=1", "app"), "mysql://h/app?x=1");
    }
}

//! What the binary log has shown since the last bump, and the generation names it reaches.
//!
//! Row events (`TABLE_MAP`) name the table a row is stored in; statement-logged writes and DDL
//! (query events) are read with the library's statement parser (which takes MySQL's modifiers
//! out). Both are then checked against the catalog ([`MyCatalog`]): foreign-key cascades,
//! views over the tables, and names that are no table at all (everything is invalidated).

use std::collections::BTreeSet;
use std::time::Instant;

use mysql_async::Conn;
use sea_orm::DbBackend;

use super::binlog_statement::QueryKind;
use super::my_catalog::{MyCatalog, Node, Reach};
use super::row_bumps::RowBumps;
use super::Settings;
use crate::cache::ModelCache;
use crate::tables::Touches;

/// A statement-logged write or DDL: the tables it names, in its default database.
#[derive(Debug, Clone)]
struct Named {
    db: String,
    tables: Vec<String>,
    ddl: bool,
    /// In a followed database (or none): its names are checked against the catalog. In
    /// another, what it names is bumped as named, never everything (the statements of other
    /// databases' applications are not this invalidator's to judge).
    checked: bool,
}

/// The tables of committed and open transactions.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    /// (db, table) of row events of committed transactions not yet bumped.
    committed: BTreeSet<Node>,
    /// (db, table) of row events of the transaction being read.
    open: BTreeSet<Node>,
    /// Statement-logged writes and DDL of committed transactions.
    statements: Vec<Named>,
    /// Those of the transaction being read.
    open_statements: Vec<Named>,
    /// A statement whose tables could not be read.
    pub(crate) everything: bool,
    pub(crate) transactions: u64,
    pub(crate) received: Vec<Instant>,
    /// A statement changed the schema: reload the catalog.
    pub(crate) ddl: bool,
    /// The rows of committed transactions' row events, by table.
    pub(crate) rows: RowBumps,
    /// Those of the transaction being read.
    pub(crate) open_rows: RowBumps,
}

/// What a batch reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bump {
    /// These generation names.
    Tables(BTreeSet<String>),
    /// Everything.
    Everything,
}

impl Pending {
    /// The transaction being read ends (commit, implicit commit, or a statement that commits
    /// by itself).
    pub(crate) fn commit(&mut self) {
        self.committed.append(&mut self.open);
        self.rows.append(&mut self.open_rows);
        self.statements.append(&mut self.open_statements);
        self.transactions += 1;
        self.received.push(Instant::now());
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.committed.is_empty() && !self.everything && self.transactions == 0
    }

    /// Whether a transaction is being read.
    pub(crate) fn open(&self) -> bool {
        !self.open.is_empty() || !self.open_statements.is_empty()
    }

    /// A row event's table.
    pub(crate) fn table(&mut self, db: &str, table: &str) {
        self.open.insert((db.to_lowercase(), table.to_lowercase()));
    }

    /// A statement-logged write or DDL in database `db` (query events).
    pub(crate) fn statement(
        &mut self,
        cache: &ModelCache,
        settings: &Settings,
        db: &str,
        sql: &str,
        kind: QueryKind,
    ) {
        let db = db.to_lowercase();
        let checked = db.is_empty() || settings.watches(&db);
        // The statement parser takes MySQL's modifiers out itself (`tables::keyword`).
        match cache.touches(DbBackend::MySql, sql) {
            Touches::Writes(tables) => self.open_statements.push(Named {
                db,
                tables: tables.to_vec(),
                ddl: kind == QueryKind::Ddl,
                checked,
            }),
            Touches::Unknown if checked => self.everything = true,
            _ => {}
        }
    }

    /// The bumps of a batch of committed transactions, after reloading the catalog when a
    /// statement changed the schema (what DDL names is reached in the old and the new
    /// catalog).
    pub(crate) async fn resolve(
        &self,
        catalog: &mut MyCatalog,
        conn: &mut Conn,
        cache: &ModelCache,
        settings: &Settings,
    ) -> Result<Bump, mysql_async::Error> {
        let old = if self.ddl {
            let newer = MyCatalog::load(conn, cache).await?;
            Some(std::mem::replace(catalog, newer))
        } else {
            None
        };
        if self.everything {
            return Ok(Bump::Everything);
        }
        let mut reached = BTreeSet::new();
        for table in &self.committed {
            let mut reach = BTreeSet::new();
            catalog.reach(table, &mut reach);
            if self.rows.is_precise(&table.1) {
                // Its rows are bumped; what else it reaches, at table level.
                reach.remove(table);
            }
            reached.extend(reach);
        }
        for named in &self.statements {
            if !reach_statement(catalog, old.as_ref(), named, &mut reached) {
                return Ok(Bump::Everything);
            }
        }
        if !self.committed.is_empty() || !self.statements.is_empty() {
            catalog.opaque_views(&mut reached);
        }
        Ok(Bump::Tables(
            reached
                .into_iter()
                .filter(|(db, _)| settings.watches(db))
                .map(|(_, table)| table)
                .collect(),
        ))
    }

    /// The next batch: what is still open is kept.
    pub(crate) fn next(&mut self) -> Pending {
        Pending {
            open: std::mem::take(&mut self.open),
            open_statements: std::mem::take(&mut self.open_statements),
            open_rows: std::mem::take(&mut self.open_rows),
            ..Pending::default()
        }
    }
}

/// Adds what `named` reaches; `false` when that is everything.
fn reach_statement(
    catalog: &MyCatalog,
    old: Option<&MyCatalog>,
    named: &Named,
    reached: &mut BTreeSet<Node>,
) -> bool {
    if !named.checked {
        for table in &named.tables {
            catalog.reach(&(named.db.clone(), table.clone()), reached);
        }
        return true;
    }
    if named.ddl {
        // DDL names tables that are new or gone: known before or after is enough.
        for table in &named.tables {
            let known = catalog.knows(table) || old.is_some_and(|o| o.knows(table));
            if !known {
                return false;
            }
            let node = (named.db.clone(), table.clone());
            catalog.reach(&node, reached);
            if let Some(old) = old {
                old.reach(&node, reached);
            }
        }
        return true;
    }
    match catalog.statement(&named.db, &named.tables) {
        Reach::Tables(nodes) => {
            for node in &nodes {
                catalog.reach(node, reached);
            }
            true
        }
        Reach::Everything => false,
    }
}

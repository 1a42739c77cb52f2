//! MariaDB/MySQL's catalog as the invalidator needs it (`information_schema`, read at start
//! and after every DDL statement in the binary log): which tables a change really reaches, and
//! which names in a statement are real.
//!
//! * foreign keys with `CASCADE` / `SET NULL` / `SET DEFAULT` actions: InnoDB logs no rows for
//!   what they change, so a changed table reaches the tables referencing it;
//! * views: a changed table reaches the views over it (their definitions read with the
//!   library's statement parser; views of views too); a view whose definition the parser
//!   cannot read (a stored function, ...) is bumped with every change;
//! * triggers: a statement-logged write runs its table's triggers on replay, so their changes
//!   are not logged; such a write invalidates everything;
//! * every base table and view, so a statement naming anything else (a parse of a modifier
//!   as a table name, a temporary table) invalidates everything.

use std::collections::{BTreeMap, BTreeSet};

use mysql_async::prelude::*;
use mysql_async::Conn;
use sea_orm::DbBackend;

use crate::cache::ModelCache;
use crate::tables::Touches;

/// `(database, table)`, lower-cased.
pub(crate) type Node = (String, String);

const SYSTEM: &str = "('mysql', 'information_schema', 'performance_schema', 'sys')";

/// A snapshot of the catalog.
#[derive(Debug, Default, Clone)]
pub(crate) struct MyCatalog {
    /// Base tables and views.
    relations: BTreeSet<Node>,
    /// Views and the table names their definition reads; `None`: not readable.
    views: BTreeMap<Node, Option<Vec<String>>>,
    /// Table name → the views reading a table of that name.
    over: BTreeMap<String, BTreeSet<Node>>,
    /// Names of tables with triggers.
    triggered: BTreeSet<String>,
    /// Referenced table → tables whose foreign key actions change them.
    cascades: BTreeMap<Node, Vec<Node>>,
    /// Each table's columns in their order (lower case): where a row event's values go.
    columns: BTreeMap<Node, Vec<String>>,
}

/// What a statement-logged write reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reach {
    /// These tables (and what they reach).
    Tables(Vec<Node>),
    /// Not provably less than everything.
    Everything,
}

fn lower(a: String, b: String) -> Node {
    (a.to_lowercase(), b.to_lowercase())
}

impl MyCatalog {
    /// Reads the catalog; view definitions are read with `cache`'s statement parser.
    pub(crate) async fn load(
        conn: &mut Conn,
        cache: &ModelCache,
    ) -> Result<MyCatalog, mysql_async::Error> {
        let mut catalog = MyCatalog::default();
        let tables: Vec<(String, String)> = conn
            .query(format!(
                "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA NOT IN {SYSTEM}"
            ))
            .await?;
        catalog
            .relations
            .extend(tables.into_iter().map(|(d, t)| lower(d, t)));
        let views: Vec<(String, String, Option<String>)> = conn
            .query(format!(
                "SELECT TABLE_SCHEMA, TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS \
                 WHERE TABLE_SCHEMA NOT IN {SYSTEM}"
            ))
            .await?;
        for (db, name, definition) in views {
            // Empty without the SHOW VIEW privilege: not readable, bumped with every change.
            let definition = definition.filter(|d| !d.trim().is_empty());
            let reads = match definition.map(|d| cache.touches(DbBackend::MySql, &d)) {
                Some(Touches::Reads(tables)) => Some(tables.to_vec()),
                Some(Touches::Nothing) => Some(Vec::new()),
                _ => None,
            };
            catalog.add_view(lower(db, name), reads);
        }
        let columns: Vec<(String, String, String)> = conn
            .query(format!(
                "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA NOT IN {SYSTEM} \
                 ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION"
            ))
            .await?;
        for (db, table, column) in columns {
            let names = catalog.columns.entry(lower(db, table)).or_default();
            names.push(column.to_lowercase());
        }
        let triggers: Vec<String> = conn
            .query("SELECT DISTINCT EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS")
            .await?;
        catalog
            .triggered
            .extend(triggers.into_iter().map(|t| t.to_lowercase()));
        let fks: Vec<(String, String, String, String)> = conn
            .query(
                "SELECT UNIQUE_CONSTRAINT_SCHEMA, REFERENCED_TABLE_NAME, CONSTRAINT_SCHEMA, \
                 TABLE_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS \
                 WHERE DELETE_RULE <> 'RESTRICT' AND DELETE_RULE <> 'NO ACTION' \
                 OR UPDATE_RULE <> 'RESTRICT' AND UPDATE_RULE <> 'NO ACTION'",
            )
            .await?;
        for (ref_db, ref_table, db, table) in fks {
            catalog
                .cascades
                .entry(lower(ref_db, ref_table))
                .or_default()
                .push(lower(db, table));
        }
        Ok(catalog)
    }

    fn add_view(&mut self, view: Node, reads: Option<Vec<String>>) {
        for table in reads.iter().flatten() {
            self.over
                .entry(table.clone())
                .or_default()
                .insert(view.clone());
        }
        self.views.insert(view, reads);
    }

    /// Every table and view named `name`, in any database.
    fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.relations.iter().filter(move |(_, t)| t == name)
    }

    /// `table`, the tables its foreign keys' actions change and the views over any of those
    /// (views of views too), added to `out`.
    pub(crate) fn reach(&self, table: &Node, out: &mut BTreeSet<Node>) {
        let mut queue = vec![table.clone()];
        let mut seen = BTreeSet::new();
        while let Some(node) = queue.pop() {
            if !seen.insert(node.clone()) {
                continue;
            }
            if let Some(children) = self.cascades.get(&node) {
                queue.extend(children.iter().cloned());
            }
            if let Some(views) = self.over.get(&node.1) {
                queue.extend(views.iter().cloned());
            }
            out.insert(node);
        }
    }

    /// The views whose reads the parser could not show, bumped with every change.
    pub(crate) fn opaque_views(&self, out: &mut BTreeSet<Node>) {
        for (view, reads) in &self.views {
            if reads.is_none() {
                self.reach(view, out);
            }
        }
    }

    /// What a statement-logged write naming `tables` (as the parser names them) in database
    /// `db` reaches: each name must be a table or view this catalog knows; a view reaches the
    /// tables it reads; a table with triggers, or anything unknown, reaches everything.
    pub(crate) fn statement(&self, db: &str, tables: &[String]) -> Reach {
        let mut found = Vec::new();
        let mut queue: Vec<String> = tables.to_vec();
        let mut seen = BTreeSet::new();
        while let Some(name) = queue.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            let nodes: Vec<&Node> = self.named(&name).collect();
            if nodes.is_empty() || self.triggered.contains(&name) {
                return Reach::Everything;
            }
            for node in &nodes {
                match self.views.get(*node) {
                    Some(Some(reads)) => queue.extend(reads.iter().cloned()),
                    Some(None) => return Reach::Everything,
                    None => {}
                }
            }
            found.push((db.to_lowercase(), name.clone()));
            found.extend(nodes.into_iter().cloned());
        }
        Reach::Tables(found)
    }

    /// The columns of `table` in their order, as of the last read.
    pub(crate) fn columns(&self, table: &Node) -> Option<&[String]> {
        self.columns.get(table).map(Vec::as_slice)
    }

    /// Whether a table or view named `name` exists in any database.
    pub(crate) fn knows(&self, name: &str) -> bool {
        self.named(name).next().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(t: &str) -> Node {
        ("d".to_owned(), t.to_owned())
    }

    fn catalog() -> MyCatalog {
        let mut c = MyCatalog::default();
        for t in ["parent", "child", "v", "w", "fv", "audit"] {
            c.relations.insert(node(t));
        }
        c.add_view(node("v"), Some(vec!["parent".into()]));
        c.add_view(node("w"), Some(vec!["v".into()]));
        c.add_view(node("fv"), None);
        c.cascades.insert(node("parent"), vec![node("child")]);
        c.triggered.insert("audit".into());
        c
    }

    #[test]
    fn a_table_reaches_cascades_and_views_over_views() {
        let c = catalog();
        let names = |out: BTreeSet<Node>| out.into_iter().map(|n| n.1).collect::<Vec<_>>();
        let mut out = BTreeSet::new();
        c.reach(&node("parent"), &mut out);
        assert_eq!(names(out), ["child", "parent", "v", "w"]);
        let mut out = BTreeSet::new();
        c.opaque_views(&mut out);
        assert_eq!(names(out), ["fv"]);
    }

    #[test]
    fn statements_naming_unknown_tables_reach_everything() {
        let c = catalog();
        // `UPDATE IGNORE parent` read as a table named `ignore`.
        assert_eq!(c.statement("d", &["ignore".into()]), Reach::Everything);
        assert_eq!(c.statement("d", &["audit".into()]), Reach::Everything);
        assert_eq!(c.statement("d", &["fv".into()]), Reach::Everything);
        let Reach::Tables(through_view) = c.statement("d", &["w".into()]) else {
            panic!("a view is known")
        };
        assert!(through_view.contains(&node("parent")), "{through_view:?}");
        assert!(c.knows("parent") && !c.knows("brand_new"));
    }
}

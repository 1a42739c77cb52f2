//! What the database's catalog says of each table, and what follows for invalidation: which
//! columns can be tracked row by row, and which other tables a write to it can change.

use std::collections::{BTreeMap, BTreeSet};

use super::kind::Kind;

/// A table (or view) as row-level invalidation sees it, from the database's catalog.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct TableSchema {
    /// The table's generation name (unqualified, lower case).
    pub table: String,
    /// Every column, lower case, sorted.
    pub columns: Vec<String>,
    /// The columns row scopes track (lower case), with how their values compare: integers,
    /// UUIDs, and text where the collation compares exactly (see [`Kind`]).
    pub tracked: BTreeMap<String, Kind>,
    /// Columns declared `NOT NULL`, lower case, sorted.
    pub not_null: Vec<String>,
    /// The primary key, when it is one tracked column.
    pub primary_key: Option<String>,
    /// The primary key's columns (sorted), when it has several and each is tracked.
    pub key_columns: Vec<String>,
    /// Whether the database may generate that key (auto increment, serial, identity, SQLite's
    /// rowid alias): a `NULL` or `0` written there is not the value stored.
    pub auto_increment: bool,
    /// Whether a write's rows can be known from its statement: a base table with no trigger,
    /// rule, generated column, conflict clause, partition or inheritance family.
    pub row_precise: bool,
    /// Whether a write to it can change tables it does not name in ways the catalog does not
    /// show (triggers, rules): such a write invalidates everything.
    pub writes_elsewhere: bool,
    /// A view (its writes land in its base tables).
    pub view: bool,
    /// Other tables whose reads a write to this one can change: the views over it, the tables
    /// under a view, partitions, parents and inheritance children, tables whose foreign keys
    /// cascade from it (transitively).
    pub related: Vec<String>,
}

impl TableSchema {
    /// Whether `column` (lower case) is of an integer type.
    pub(crate) fn is_integer(&self, column: &str) -> bool {
        self.kind(column).is_some_and(|k| k.range().is_some())
    }

    /// How `column` (lower case) compares, if row scopes track it.
    pub(crate) fn kind(&self, column: &str) -> Option<&Kind> {
        self.tracked.get(column)
    }

    /// Whether the table has `column` (lower case).
    pub(crate) fn has_column(&self, column: &str) -> bool {
        self.columns
            .binary_search_by(|c| c.as_str().cmp(column))
            .is_ok()
    }

    /// Whether `value` fits `column`'s type (a value that does not is clamped or refused by
    /// the database, so it is not the value stored).
    pub(crate) fn fits(&self, column: &str, value: i128) -> bool {
        self.kind(column)
            .and_then(Kind::range)
            .is_none_or(|(low, high)| (low..=high).contains(&value))
    }

    /// Whether `column` is declared `NOT NULL`.
    pub(crate) fn is_not_null(&self, column: &str) -> bool {
        self.not_null
            .binary_search_by(|c| c.as_str().cmp(column))
            .is_ok()
    }
}

/// An integer type's range, by its name in any of the three dialects (`None`: not an integer).
pub(crate) fn integer_range(type_name: &str, unsigned: bool) -> Option<(i128, i128)> {
    let bits = match type_name.trim().to_lowercase().as_str() {
        "tinyint" | "int1" => 8,
        "smallint" | "int2" | "smallserial" => 16,
        "mediumint" | "int3" => 24,
        "int" | "integer" | "int4" | "serial" => 32,
        "bigint" | "int8" | "bigserial" => 64,
        _ => return None,
    };
    Some(if unsigned {
        (0, (1i128 << bits) - 1)
    } else {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    })
}

/// One column as a dialect's catalog describes it.
#[derive(Debug, Clone, Default)]
pub(crate) struct ColumnFact {
    pub table: String,
    pub column: String,
    /// How its values compare, when row scopes can track it.
    pub kind: Option<Kind>,
    /// A generated (computed) column.
    pub generated: bool,
    /// Its value is generated when none is given (auto increment, serial, identity).
    pub auto: bool,
    /// Declared `NOT NULL`.
    pub not_null: bool,
}

/// Everything one dialect's catalog queries found, before it is put together.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    /// Relations: name → is a view.
    pub relations: BTreeMap<String, bool>,
    pub columns: Vec<ColumnFact>,
    /// (table, column) of each primary key column.
    pub primary_keys: Vec<(String, String)>,
    /// Tables with triggers or rules.
    pub triggers: BTreeSet<String>,
    /// Tables whose rows the statement does not fully show: conflict clauses in the schema
    /// (SQLite's `ON CONFLICT REPLACE`), a SQLite `INTEGER PRIMARY KEY` given `NULL`, ...
    pub imprecise: BTreeSet<String>,
    /// Tables with a generated rowid alias (SQLite `INTEGER PRIMARY KEY`).
    pub rowid_alias: BTreeSet<String>,
    /// (child, parent): partitions and inheritance.
    pub inherits: Vec<(String, String)>,
    /// (view, table it reads).
    pub view_uses: Vec<(String, String)>,
    /// Views whose tables could not be found: every write reaches them.
    pub opaque_views: BTreeSet<String>,
    /// (referencing, referenced) for foreign keys whose actions write the referencing table.
    pub cascades: Vec<(String, String)>,
}

/// The catalog of one database, put together: a [`TableSchema`] per table and view.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    /// Tells snapshots apart (memos made with one are not used with another).
    pub id: u64,
    tables: BTreeMap<String, std::sync::Arc<TableSchema>>,
}

impl Snapshot {
    /// The schema of `table` (a generation name), if the catalog has it.
    pub(crate) fn table(&self, table: &str) -> Option<&std::sync::Arc<TableSchema>> {
        self.tables.get(table)
    }

    /// Puts `facts` together.
    pub(crate) fn build(id: u64, facts: Facts) -> Snapshot {
        let mut tables: BTreeMap<String, TableSchema> = facts
            .relations
            .iter()
            .map(|(name, view)| {
                let schema = TableSchema {
                    table: name.clone(),
                    view: *view,
                    row_precise: !*view,
                    ..TableSchema::default()
                };
                (name.clone(), schema)
            })
            .collect();
        add_columns(&mut tables, &facts);
        for table in facts.triggers.iter().chain(&facts.imprecise) {
            if let Some(schema) = tables.get_mut(table) {
                schema.row_precise = false;
                schema.writes_elsewhere |= facts.triggers.contains(table);
            }
        }
        let related = relations(&facts);
        for (name, schema) in tables.iter_mut() {
            // Partitions, parents and inheritance children share rows with this table.
            schema.row_precise &= !partitioned(name, &facts);
            schema.related = reach(name, &related, &facts.opaque_views)
                .into_iter()
                .collect();
        }
        Snapshot {
            id,
            tables: tables
                .into_iter()
                .map(|(name, schema)| (name, std::sync::Arc::new(schema)))
                .collect(),
        }
    }
}

/// Adds columns, integer ranges, primary keys and generated columns to `tables`.
fn add_columns(tables: &mut BTreeMap<String, TableSchema>, facts: &Facts) {
    let mut auto: BTreeSet<(String, String)> = BTreeSet::new();
    for fact in &facts.columns {
        let Some(schema) = tables.get_mut(&fact.table) else {
            continue;
        };
        schema.columns.push(fact.column.clone());
        if fact.not_null {
            schema.not_null.push(fact.column.clone());
        }
        if fact.generated {
            schema.row_precise = false;
        }
        if let Some(kind) = &fact.kind {
            schema.tracked.insert(fact.column.clone(), kind.clone());
        }
        if fact.auto {
            auto.insert((fact.table.clone(), fact.column.clone()));
        }
    }
    let mut keys: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (table, column) in &facts.primary_keys {
        let columns = keys.entry(table).or_default();
        if !columns.contains(&column.as_str()) {
            columns.push(column);
        }
    }
    for (name, schema) in tables.iter_mut() {
        schema.columns.sort();
        schema.columns.dedup();
        schema.not_null.sort();
        schema.not_null.dedup();
        match keys.get(name.as_str()).map(Vec::as_slice) {
            Some([only]) if schema.kind(only).is_some() => {
                schema.primary_key = Some((*only).to_owned());
                schema.auto_increment = schema.is_integer(only)
                    && (auto.contains(&(name.clone(), (*only).to_owned()))
                        || facts.rowid_alias.contains(name));
            }
            Some(columns)
                if columns.len() > 1 && columns.iter().all(|c| schema.kind(c).is_some()) =>
            {
                schema.key_columns = columns.iter().map(|c| (*c).to_owned()).collect();
                schema.key_columns.sort();
            }
            _ => {}
        }
    }
}

/// Edges: a write to the key can change reads of each value.
fn relations(facts: &Facts) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut both = |a: &String, b: &String| {
        edges.entry(a.clone()).or_default().insert(b.clone());
        edges.entry(b.clone()).or_default().insert(a.clone());
    };
    for (child, parent) in &facts.inherits {
        both(child, parent);
    }
    for (view, table) in &facts.view_uses {
        both(view, table);
    }
    for (referencing, referenced) in &facts.cascades {
        edges
            .entry(referenced.clone())
            .or_default()
            .insert(referencing.clone());
    }
    edges
}

/// Every table a write to `start` can change, besides `start`; opaque views are reached from
/// every table.
fn reach(
    start: &str,
    edges: &BTreeMap<String, BTreeSet<String>>,
    opaque: &BTreeSet<String>,
) -> BTreeSet<String> {
    let mut seen = BTreeSet::from([start.to_owned()]);
    let mut stack = vec![start.to_owned()];
    stack.extend(opaque.iter().cloned());
    seen.extend(opaque.iter().cloned());
    while let Some(table) = stack.pop() {
        for next in edges.get(&table).into_iter().flatten() {
            if seen.insert(next.clone()) {
                stack.push(next.clone());
            }
        }
    }
    seen.remove(start);
    seen
}

/// Whether `table` is a partition, a partitioned table, an inheritance parent or child.
fn partitioned(table: &str, facts: &Facts) -> bool {
    facts.inherits.iter().any(|(c, p)| c == table || p == table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(table: &str, column: &str, kind: Option<Kind>) -> ColumnFact {
        ColumnFact {
            table: table.into(),
            column: column.into(),
            kind,
            ..ColumnFact::default()
        }
    }

    #[test]
    fn views_partitions_and_cascades_relate_tables() {
        let int = Kind::integer("integer", false);
        let mut facts = Facts::default();
        for (name, view) in [("posts", false), ("parts", false), ("parts_low", false)] {
            facts.relations.insert(name.into(), view);
        }
        facts.relations.insert("recent".into(), true);
        facts.relations.insert("comments".into(), false);
        facts.columns = vec![column("posts", "id", int), column("posts", "title", None)];
        facts.primary_keys = vec![("posts".into(), "id".into())];
        facts.inherits = vec![("parts_low".into(), "parts".into())];
        facts.view_uses = vec![("recent".into(), "posts".into())];
        facts.cascades = vec![("comments".into(), "posts".into())];
        let snapshot = Snapshot::build(1, facts);
        let posts = snapshot.table("posts").unwrap();
        assert_eq!(posts.related, vec!["comments", "recent"]);
        assert_eq!(posts.primary_key.as_deref(), Some("id"));
        assert!(posts.has_column("title") && !posts.is_integer("title"));
        let low = snapshot.table("parts_low").unwrap();
        assert_eq!(low.related, vec!["parts"]);
        assert!(!low.row_precise);
        assert_eq!(
            snapshot.table("recent").unwrap().related,
            vec!["comments", "posts"]
        );
        // A cascade writes the child; a write to the child does not change the parent.
        assert!(snapshot.table("comments").unwrap().related.is_empty());
    }

    #[test]
    fn ranges_follow_the_type() {
        assert_eq!(integer_range("SMALLINT", false), Some((-32768, 32767)));
        assert_eq!(integer_range("tinyint", true), Some((0, 255)));
        assert_eq!(integer_range("text", false), None);
        let schema = TableSchema {
            tracked: BTreeMap::from([("n".into(), Kind::integer("smallint", false).unwrap())]),
            ..TableSchema::default()
        };
        assert!(schema.fits("n", 32767) && !schema.fits("n", 40000));
        assert!(schema.fits("m", 40000), "no range known: taken as it is");
    }
}

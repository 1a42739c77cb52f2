//! SQLite's catalog (`sqlite_master` and the table-valued pragmas): tables and views, columns
//! with their integer affinity, generated (hidden) columns, the primary key and whether it
//! aliases the rowid, triggers, `ON CONFLICT REPLACE` in a table's definition, cascading
//! foreign keys, and the tables each view reads (its definition, parsed).

use sea_orm::{ConnectionTrait, DbBackend, DbErr};

use super::load::{rows, text, view_uses};
use std::collections::HashMap;

use super::table::{ColumnFact, Facts};

/// Reads the catalog of the main database through `db`.
pub(super) async fn facts<C: ConnectionTrait>(db: &C) -> Result<Facts, DbErr> {
    let mut facts = Facts::default();
    let sql = "SELECT lower(name), type, coalesce(sql, ''), lower(tbl_name) FROM sqlite_master \
               WHERE type IN ('table', 'view', 'trigger') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'";
    for row in rows(db, sql).await? {
        let (name, kind, sql) = (text(&row, 0), text(&row, 1), text(&row, 2));
        match kind.as_str() {
            "trigger" => {
                facts.triggers.insert(text(&row, 3));
            }
            "view" => {
                facts.relations.insert(name.clone(), true);
                let definition = view_query(&sql);
                view_uses(&mut facts, DbBackend::Sqlite, name, definition);
            }
            _ => {
                if replaces_on_conflict(&sql) {
                    facts.imprecise.insert(name.clone());
                }
                if !sql.to_lowercase().contains("without rowid") {
                    facts.rowid_alias.insert(name.clone());
                }
                facts.relations.insert(name, false);
            }
        }
    }
    columns(db, &mut facts).await?;
    let sql = "SELECT lower(m.name), lower(f.\"table\"), upper(f.on_update), upper(f.on_delete) \
               FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f \
               WHERE m.type = 'table'";
    for row in rows(db, sql).await? {
        let acts = |at| !matches!(text(&row, at).as_str(), "NO ACTION" | "RESTRICT" | "");
        if acts(2) || acts(3) {
            facts.cascades.push((text(&row, 0), text(&row, 1)));
        }
    }
    Ok(facts)
}

async fn columns<C: ConnectionTrait>(db: &C, facts: &mut Facts) -> Result<(), DbErr> {
    let sql = "SELECT lower(m.name), lower(p.name), upper(p.type), CAST(p.pk AS TEXT), \
               CAST(p.hidden AS TEXT), CAST(p.\"notnull\" AS TEXT), coalesce(m.sql, '') \
               FROM sqlite_master m JOIN pragma_table_xinfo(m.name) p \
               WHERE m.type IN ('table', 'view')";
    let mut keys: Vec<(String, String, String)> = Vec::new();
    let mut collations: HashMap<String, Option<HashMap<String, String>>> = HashMap::new();
    for row in rows(db, sql).await? {
        let (table, column, declared) = (text(&row, 0), text(&row, 1), text(&row, 2));
        let collation = collations
            .entry(table.clone())
            .or_insert_with(|| column_collations(&text(&row, 6)))
            .as_ref()
            .map(|c| c.get(&column).map_or("BINARY", String::as_str));
        facts.columns.push(ColumnFact {
            table: table.clone(),
            column: column.clone(),
            kind: super::kind::sqlite(&declared, collation),
            generated: text(&row, 4) != "0",
            auto: false,
            not_null: text(&row, 5) != "0",
        });
        if text(&row, 3) != "0" {
            keys.push((table, column, declared));
        }
    }
    for (table, column, declared) in keys {
        // Only a one-column `INTEGER PRIMARY KEY` aliases the rowid (SQLite generates it).
        let alone = facts.primary_keys.iter().all(|(t, _)| *t != table);
        if !(alone && declared == "INTEGER") {
            facts.rowid_alias.remove(&table);
        }
        facts.primary_keys.push((table, column));
    }
    facts
        .rowid_alias
        .retain(|t| facts.primary_keys.iter().filter(|(k, _)| k == t).count() == 1);
    Ok(())
}

/// The collation each column of a `CREATE TABLE` declares (lower-case column -> upper-case
/// collation; a column not in the map compares by `BINARY`); `None` when the definition does
/// not parse.
fn column_collations(sql: &str) -> Option<HashMap<String, String>> {
    use sqlparser::ast::{ColumnOption, Statement};
    let statements = crate::tables::parse_statements(DbBackend::Sqlite, sql)?;
    let [Statement::CreateTable(create)] = statements.as_slice() else {
        return None;
    };
    let mut out = HashMap::new();
    for column in &create.columns {
        for option in &column.options {
            if let ColumnOption::Collation(name) = &option.option {
                let name = name
                    .to_string()
                    .trim_matches(['"', '`', '\'', '[', ']'])
                    .to_uppercase();
                out.insert(column.name.value.to_lowercase(), name);
            }
        }
    }
    Some(out)
}

/// The `SELECT` of a `CREATE VIEW v AS SELECT ...` definition.
fn view_query(sql: &str) -> &str {
    let lower = sql.to_lowercase();
    match lower.find(" as ") {
        Some(at) => &sql[at + 4..],
        None => sql,
    }
}

/// Whether a table definition has a conflict clause that replaces rows (`ON CONFLICT
/// REPLACE` on a constraint): then a plain `INSERT` or `UPDATE` can delete other rows.
fn replaces_on_conflict(sql: &str) -> bool {
    let words: Vec<String> = sql
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    words
        .windows(3)
        .any(|w| w[0] == "on" && w[1] == "conflict" && w[2] == "replace")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_clauses_and_view_definitions_are_read() {
        assert!(replaces_on_conflict(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, e TEXT UNIQUE ON  CONFLICT\nREPLACE)"
        ));
        assert!(!replaces_on_conflict(
            "CREATE TABLE t (id INTEGER PRIMARY KEY)"
        ));
        let collations = column_collations(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, e TEXT COLLATE nocase, f TEXT)",
        )
        .unwrap();
        assert_eq!(collations.get("e").map(String::as_str), Some("NOCASE"));
        assert_eq!(collations.get("f"), None);
        assert_eq!(
            view_query("CREATE VIEW v AS SELECT id FROM t"),
            "SELECT id FROM t"
        );
    }
}

//! What `classify` says, statement kind by statement kind and dialect by dialect.

mod reads;
mod statements;
mod writes;

use super::*;

use sea_orm::DatabaseBackend::{MySql, Postgres, Sqlite};

const ALL: [DbBackend; 3] = [Postgres, MySql, Sqlite];

fn reads(backend: DbBackend, sql: &str) -> Vec<String> {
    match classify(backend, sql) {
        Touches::Reads(t) => t.to_vec(),
        other => panic!("{backend:?} {sql}: {other:?}"),
    }
}

fn writes(backend: DbBackend, sql: &str) -> Vec<String> {
    match classify(backend, sql) {
        Touches::Writes(t) => t.to_vec(),
        other => panic!("{backend:?} {sql}: {other:?}"),
    }
}

/// `sql` writes (at least) `tables`.
fn assert_writes(backend: DbBackend, sql: &str, tables: &[&str]) {
    let written = writes(backend, sql);
    for table in tables {
        assert!(
            written.iter().any(|w| w == table),
            "{backend:?} {sql}: {table} not in {written:?}"
        );
    }
}

fn assert_is(backend: DbBackend, sql: &str, expected: Touches) {
    assert_eq!(classify(backend, sql), expected, "{backend:?} {sql}");
}

/// Writes `tables`, or is not understood (which invalidates everything).
fn assert_writes_or_unknown(backend: DbBackend, sql: &str, tables: &[&str]) {
    if classify(backend, sql) != Touches::Unknown {
        assert_writes(backend, sql, tables);
    }
}

#[test]
fn memoizes_by_text() {
    let index = TableIndex::default();
    let sql = r#"SELECT 1 FROM "users""#;
    assert_eq!(index.touches(Postgres, sql), index.touches(Postgres, sql));
    assert_eq!(
        index.memo.get(sql),
        Some(Touches::Reads(vec!["users".to_owned()].into()))
    );
    let write = "WITH m AS (UPDATE users SET x = 1 RETURNING id) SELECT id FROM m";
    assert_eq!(
        index.touches(Postgres, write),
        Touches::Writes(vec!["users".to_owned()].into())
    );
    assert_eq!(
        index.memo.get(write),
        Some(Touches::Writes(vec!["users".to_owned()].into()))
    );
}

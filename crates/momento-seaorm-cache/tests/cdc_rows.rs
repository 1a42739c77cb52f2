//! Change capture bumps rows, not tables: a write made outside the library (a plain
//! `DatabaseConnection`) invalidates the cached reads of the rows it changed — old and new
//! values of an indexed column alike — and leaves the reads of other rows cached, on
//! PostgreSQL (`test_decoding`) and MariaDB (binlog `ROW` images). With PostgreSQL's
//! `REPLICA IDENTITY DEFAULT` the old values of non-key columns are not logged: those columns
//! fall back to column level (every `user_id = ?` read), which is shown here too.
#![cfg(all(feature = "cdc-postgres", feature = "cdc-mysql"))]

mod cdc_common;
mod common;

use cdc_common::Cdc;
use common::Db;
use momento_seaorm_cache::CacheStatus;
use sea_orm::JsonValue;

/// Reads `sql` until it is a hit, and checks it against the database.
async fn cached(cdc: &Cdc, sql: &str) {
    for _ in 0..50 {
        let (rows, status) = cdc.read(sql).await;
        if status == CacheStatus::Hit {
            assert_eq!(rows, cdc.truth(sql).await, "{sql}");
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("{sql} never became a hit");
}

/// Reads `sql` once: how it was served, after checking it against the database.
async fn status(cdc: &Cdc, sql: &str) -> CacheStatus {
    let (rows, status) = cdc.read(sql).await;
    assert_eq!(rows, cdc.truth(sql).await, "{sql}: a stale read");
    status
}

fn by_id(table: &str, id: i32) -> String {
    format!("SELECT id, user_id, name FROM {table} WHERE id = {id}")
}

fn by_user(table: &str, user: i32) -> String {
    format!("SELECT id, user_id, name FROM {table} WHERE user_id = {user} ORDER BY id")
}

/// Creates `table` (with `identity` on PostgreSQL: `FULL` or `DEFAULT`) and waits until the
/// invalidator has seen the DDL, so reads and bumps use a catalog that has it.
async fn create(cdc: &Cdc, table: &str, identity: &str) {
    let text = if cdc.kind == Db::Postgres {
        "TEXT"
    } else {
        "VARCHAR(100)"
    };
    cdc.write(&format!(
        "CREATE TABLE {table} (id INT PRIMARY KEY, user_id INT NOT NULL, name {text} NOT NULL)"
    ))
    .await;
    if cdc.kind == Db::Postgres {
        cdc.write(&format!("ALTER TABLE {table} REPLICA IDENTITY {identity}"))
            .await;
    }
    cdc.write(&format!(
        "INSERT INTO {table} VALUES (1, 1, 'a'), (2, 1, 'b'), (3, 3, 'c')"
    ))
    .await;
    cdc.caught_up().await;
}

async fn a_plain_write_to_row_2_leaves_row_1_cached(kind: Db) {
    let Some(cdc) = Cdc::new(kind, "rows_one").await else {
        return;
    };
    create(&cdc, "items", "FULL").await;
    for id in [1, 2] {
        cached(&cdc, &by_id("items", id)).await;
    }
    cdc.write("UPDATE items SET name = 'b2' WHERE id = 2").await;
    cdc.caught_up().await;
    assert_eq!(status(&cdc, &by_id("items", 2)).await, CacheStatus::Miss);
    assert_eq!(
        status(&cdc, &by_id("items", 1)).await,
        CacheStatus::Hit,
        "a write to row 2 left row 1's read cached"
    );
    cdc.write("DELETE FROM items WHERE id = 1").await;
    cdc.write("INSERT INTO items VALUES (4, 3, 'd')").await;
    cdc.caught_up().await;
    assert_eq!(status(&cdc, &by_id("items", 1)).await, CacheStatus::Miss);
    assert_eq!(status(&cdc, &by_id("items", 2)).await, CacheStatus::Hit);
    cdc.finish().await;
}

async fn an_indexed_column_change_invalidates_both_lists(kind: Db) {
    let Some(cdc) = Cdc::new(kind, "rows_lists").await else {
        return;
    };
    create(&cdc, "items", "FULL").await;
    let lists = [
        by_user("items", 1),
        by_user("items", 2),
        by_user("items", 3),
    ];
    for list in &lists {
        cached(&cdc, list).await;
    }
    cdc.write("UPDATE items SET user_id = 2 WHERE id = 1").await;
    cdc.caught_up().await;
    let (moved, _) = cdc.read(&lists[1]).await;
    let ids: Vec<i64> = moved
        .iter()
        .filter_map(|r: &JsonValue| r["id"].as_i64())
        .collect();
    assert_eq!(ids, [1], "the new list shows the row");
    assert_eq!(
        status(&cdc, &lists[0]).await,
        CacheStatus::Miss,
        "the old list"
    );
    assert_eq!(
        status(&cdc, &lists[2]).await,
        CacheStatus::Hit,
        "another value's list stays cached (old values are known)"
    );
    cdc.finish().await;
}

/// PostgreSQL only: `REPLICA IDENTITY DEFAULT` logs the old key, not the old `user_id`: every
/// `user_id = ?` read is invalidated (column level), the other rows' reads by key are not.
async fn replica_identity_default_falls_back_to_the_column() {
    let Some(cdc) = Cdc::new(Db::Postgres, "rows_default").await else {
        return;
    };
    create(&cdc, "plain", "DEFAULT").await;
    let other_list = by_user("plain", 3);
    let other_row = by_id("plain", 3);
    cached(&cdc, &other_list).await;
    cached(&cdc, &other_row).await;
    cdc.write("UPDATE plain SET user_id = 2 WHERE id = 1").await;
    cdc.caught_up().await;
    assert_eq!(
        status(&cdc, &other_list).await,
        CacheStatus::Miss,
        "the old user_id is not logged: every user_id list is invalidated"
    );
    assert_eq!(
        status(&cdc, &other_row).await,
        CacheStatus::Hit,
        "the key is logged: other rows stay cached"
    );
    // A delete logs only the key too.
    cached(&cdc, &other_list).await;
    cdc.write("DELETE FROM plain WHERE id = 2").await;
    cdc.caught_up().await;
    assert_eq!(status(&cdc, &other_list).await, CacheStatus::Miss);
    assert_eq!(status(&cdc, &other_row).await, CacheStatus::Hit);
    cdc.finish().await;
}

/// A table the catalog does not show row-precise (a trigger) is still bumped whole.
async fn a_table_with_a_trigger_is_bumped_whole(kind: Db) {
    let Some(cdc) = Cdc::new(kind, "rows_trigger").await else {
        return;
    };
    // `parent` has a trigger (cdc_common's setup).
    let one = "SELECT id, name FROM parent WHERE id = 1";
    cdc.caught_up().await;
    cached(&cdc, one).await;
    cdc.write("UPDATE parent SET name = 'two2' WHERE id = 2")
        .await;
    cdc.caught_up().await;
    assert_eq!(status(&cdc, one).await, CacheStatus::Miss);
    cdc.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_plain_write_to_row_2_leaves_row_1_cached() {
    a_plain_write_to_row_2_leaves_row_1_cached(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_a_plain_write_to_row_2_leaves_row_1_cached() {
    a_plain_write_to_row_2_leaves_row_1_cached(Db::MySql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_indexed_column_change_invalidates_both_lists() {
    an_indexed_column_change_invalidates_both_lists(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_an_indexed_column_change_invalidates_both_lists() {
    an_indexed_column_change_invalidates_both_lists(Db::MySql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replica_identity_default_falls_back_to_the_column() {
    replica_identity_default_falls_back_to_the_column().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_table_with_a_trigger_is_bumped_whole() {
    a_table_with_a_trigger_is_bumped_whole(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_a_table_with_a_trigger_is_bumped_whole() {
    a_table_with_a_trigger_is_bumped_whole(Db::MySql).await;
}

/// A cached read of `sql` with `values` bound: rows as JSON and how it was served, checked
/// against the database.
async fn bound(cdc: &Cdc, sql: &str, values: Vec<sea_orm::Value>) -> (Vec<JsonValue>, CacheStatus) {
    use momento_seaorm_cache::{LoadAll, Loader, Operation, ReadRequest};
    use sea_orm::{SelectModel, Statement};
    let statement = Statement::from_sql_and_values(cdc.db.backend(), sql, values);
    let request = ReadRequest::new(Operation::All, statement.clone());
    let read = cdc
        .cache
        .read_statement(
            &cdc.db.conn,
            request,
            LoadAll::<SelectModel<JsonValue>>::new,
        )
        .await
        .expect("cached read");
    let truth = LoadAll::<SelectModel<JsonValue>>::new(statement)
        .load(&cdc.db.conn)
        .await
        .expect("database read");
    assert_eq!(read.value, truth, "{sql}: a stale read");
    (read.value, read.status)
}

/// UUID keys and lookups by exactly compared text (PostgreSQL `uuid` and deterministic
/// `text`; MariaDB `BINARY(16)` and a `utf8mb4_nopad_bin` column) are row-precise under
/// change capture too.
async fn uuid_and_email_reads_are_row_precise(kind: Db) {
    use sea_orm::prelude::Uuid;
    let Some(cdc) = Cdc::new(kind, "rows_uuid").await else {
        return;
    };
    let (ddl, p) = if kind == Db::Postgres {
        (
            "CREATE TABLE accounts (id UUID PRIMARY KEY, email TEXT NOT NULL, n INT NOT NULL); \
             ALTER TABLE accounts REPLICA IDENTITY FULL",
            ["$1", "$2"],
        )
    } else {
        (
            "CREATE TABLE accounts (id BINARY(16) PRIMARY KEY, email VARCHAR(100) \
             CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL, n INT NOT NULL)",
            ["?", "?"],
        )
    };
    cdc.write(ddl).await;
    let ids = [
        Uuid::from_u128(0x67e5_5044_10b1_426f_9247_bb68_0e5f_e000),
        Uuid::from_u128(0xa0ee_bc99_9c0b_4ef8_bb6d_6bb9_bd38_0a11),
    ];
    let insert = format!("INSERT INTO accounts VALUES ({}, {}, 0)", p[0], p[1]);
    for (id, email) in ids.iter().zip(["a@x.io", "b@x.io"]) {
        let values = vec![sea_orm::Value::Uuid(Some(*id)), email.into()];
        let statement = sea_orm::Statement::from_sql_and_values(cdc.db.backend(), &insert, values);
        sea_orm::ConnectionTrait::execute_raw(&cdc.db.conn, statement)
            .await
            .expect("insert");
    }
    cdc.caught_up().await;
    let by_id = format!("SELECT email, n FROM accounts WHERE id = {}", p[0]);
    let by_email = format!("SELECT n FROM accounts WHERE email = {}", p[0]);
    let id = |i: usize| vec![sea_orm::Value::Uuid(Some(ids[i]))];
    let email = |e: &str| vec![sea_orm::Value::from(e)];
    for _ in 0..50 {
        let a = bound(&cdc, &by_id, id(0)).await.1;
        let b = bound(&cdc, &by_id, id(1)).await.1;
        let c = bound(&cdc, &by_email, email("a@x.io")).await.1;
        let d = bound(&cdc, &by_email, email("b@x.io")).await.1;
        if [a, b, c, d].iter().all(|s| *s == CacheStatus::Hit) {
            break;
        }
    }
    cdc.write("UPDATE accounts SET n = 1 WHERE email = 'b@x.io'")
        .await;
    cdc.caught_up().await;
    assert_eq!(bound(&cdc, &by_id, id(1)).await.1, CacheStatus::Miss);
    assert_eq!(
        bound(&cdc, &by_email, email("b@x.io")).await.1,
        CacheStatus::Miss
    );
    assert_eq!(
        bound(&cdc, &by_id, id(0)).await.1,
        CacheStatus::Hit,
        "another UUID's read stays cached"
    );
    assert_eq!(
        bound(&cdc, &by_email, email("a@x.io")).await.1,
        CacheStatus::Hit,
        "another email's read stays cached"
    );
    cdc.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_uuid_and_email_reads_are_row_precise() {
    uuid_and_email_reads_are_row_precise(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_uuid_and_email_reads_are_row_precise() {
    uuid_and_email_reads_are_row_precise(Db::MySql).await;
}

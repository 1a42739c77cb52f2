//! Every statement that writes is seen as a write, through every method of
//! `CachedConnection`: data-modifying CTEs, upserts, `REPLACE`, `MERGE`, multi-statement
//! strings, `RETURNING`, and calls of procedures and functions (unknown: everything is
//! invalidated). `SELECT … FOR UPDATE` is a read and invalidates nothing. On each database
//! that has the statement.

mod common;

use common::entities::user;
use common::{Db, TestCache, TestDb};
use futures::StreamExt;
use momento_seaorm_cache::{CacheQueryExt, CacheStatus, CachedConnection, ModelCache};
use sea_orm::{ConnectionTrait, EntityTrait, Statement, StreamTrait};

/// A way of sending SQL through a `CachedConnection`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    ExecuteUnprepared,
    ExecuteRaw,
    QueryOneRaw,
    QueryAllRaw,
    StreamRaw,
}

const METHODS: [Method; 5] = [
    Method::ExecuteUnprepared,
    Method::ExecuteRaw,
    Method::QueryOneRaw,
    Method::QueryAllRaw,
    Method::StreamRaw,
];

async fn send(conn: &CachedConnection, method: Method, sql: &str) {
    let statement = || Statement::from_string(ConnectionTrait::get_database_backend(conn), sql);
    match method {
        Method::ExecuteUnprepared => drop(conn.execute_unprepared(sql).await.unwrap()),
        Method::ExecuteRaw => drop(conn.execute_raw(statement()).await.unwrap()),
        Method::QueryOneRaw => drop(conn.query_one_raw(statement()).await.unwrap()),
        Method::QueryAllRaw => drop(conn.query_all_raw(statement()).await.unwrap()),
        Method::StreamRaw => {
            let mut rows = conn.stream_raw(statement()).await.unwrap();
            while let Some(row) = rows.next().await {
                row.unwrap();
            }
        }
    }
}

/// One cached read of each kind: a primary-key read and a count, with their statuses.
async fn reads(cache: &ModelCache, conn: &CachedConnection) -> ((i32, u64), [CacheStatus; 2]) {
    let by_pk = cache
        .wrap(user::Entity)
        .find_by_pk_with_status(conn, 1)
        .await
        .unwrap();
    let count = user::Entity::find()
        .cached(cache)
        .count_with_status(conn)
        .await
        .unwrap();
    (
        (by_pk.value.unwrap().age, count.value),
        [by_pk.status, count.status],
    )
}

async fn truth(conn: &CachedConnection) -> (i32, u64) {
    use sea_orm::PaginatorTrait;
    let row = user::Entity::find_by_id(1)
        .one(conn.inner())
        .await
        .unwrap()
        .unwrap();
    (
        row.age,
        user::Entity::find().count(conn.inner()).await.unwrap(),
    )
}

/// Warms both reads, sends `sql`, and checks both now miss (or, for a read, still hit) and
/// equal the database.
async fn check(
    cache: &ModelCache,
    conn: &CachedConnection,
    method: Method,
    sql: &str,
    writes: bool,
) {
    reads(cache, conn).await;
    let (_, warm) = reads(cache, conn).await;
    assert_eq!(warm, [CacheStatus::Hit; 2], "warm before {method:?} {sql}");
    send(conn, method, sql).await;
    let (values, statuses) = reads(cache, conn).await;
    let expected = if writes {
        CacheStatus::Miss
    } else {
        CacheStatus::Hit
    };
    assert_eq!(statuses, [expected; 2], "{method:?} {sql}");
    assert_eq!(
        values,
        truth(conn).await,
        "{method:?} {sql}: equals the database"
    );
}

/// Statements each database runs, with the setup some of them need: (setup, statement,
/// whether it may go through a prepared method, whether it writes).
fn statements(kind: Db) -> Vec<(Option<&'static str>, &'static str, bool, bool)> {
    match kind {
        Db::Postgres => vec![
            (None, "WITH moved AS (UPDATE users SET age = age + 1 WHERE id = 1 RETURNING id) SELECT id FROM moved", true, true),
            (None, "INSERT INTO users (id, username, birthday, age, is_active, account_balance, group_id) VALUES (1, 'user1', '1992-06-21 00:00:00+00', 0, true, 1.0, 1) ON CONFLICT (id) DO UPDATE SET age = users.age + 1", true, true),
            (None, "MERGE INTO users u USING (SELECT 1 AS id) s ON u.id = s.id WHEN MATCHED THEN UPDATE SET age = u.age + 1", true, true),
            (None, "UPDATE users SET age = age + 1 WHERE id = 1 RETURNING age", true, true),
            (None, "SELECT 1; UPDATE users SET age = age + 1 WHERE id = 1", false, true),
            (Some("CREATE PROCEDURE bump() LANGUAGE SQL AS $$ UPDATE users SET age = age + 1 WHERE id = 1 $$"), "CALL bump()", true, true),
            (Some("CREATE FUNCTION bump_fn() RETURNS int LANGUAGE SQL AS $$ UPDATE users SET age = age + 1 WHERE id = 1 RETURNING age $$"), "SELECT bump_fn()", true, true),
            (None, "SELECT id FROM users WHERE id = 1 FOR UPDATE", true, false),
        ],
        Db::MySql => vec![
            (None, "INSERT INTO users (id, username, birthday, age, is_active, account_balance, group_id) VALUES (1, 'user1', '1992-06-21 00:00:00', 0, 1, 1.0, 1) ON DUPLICATE KEY UPDATE age = age + 1", true, true),
            (None, "REPLACE INTO users (id, username, birthday, age, is_active, account_balance, group_id) VALUES (1, 'user1', '1992-06-21 00:00:00', 50, 1, 1.0, 1)", true, true),
            (None, "SELECT 1; UPDATE users SET age = age + 1 WHERE id = 1", false, true),
            (Some("CREATE PROCEDURE bump() UPDATE users SET age = age + 1 WHERE id = 1"), "CALL bump()", true, true),
            (None, "SELECT id FROM users WHERE id = 1 FOR UPDATE", true, false),
        ],
        Db::Sqlite => vec![
            (None, "INSERT INTO users (id, username, birthday, age, is_active, account_balance, group_id) VALUES (1, 'user1', '1992-06-21 00:00:00', 0, 1, 1.0, 1) ON CONFLICT(id) DO UPDATE SET age = age + 1", true, true),
            (None, "INSERT OR REPLACE INTO users (id, username, birthday, age, is_active, account_balance, group_id) VALUES (1, 'user1', '1992-06-21 00:00:00', 60, 1, 1.0, 1)", true, true),
            (None, "REPLACE INTO users (id, username, birthday, age, is_active, account_balance, group_id) VALUES (1, 'user1', '1992-06-21 00:00:00', 61, 1, 1.0, 1)", true, true),
            (None, "UPDATE users SET age = age + 1 WHERE id = 1 RETURNING age", true, true),
            (None, "SELECT 1; UPDATE users SET age = age + 1 WHERE id = 1", false, true),
        ],
    }
}

async fn every_write_statement_through_every_method_invalidates(kind: Db) {
    let Some(db) = TestDb::new(kind).await else {
        return;
    };
    db.seed().await;
    let momento = TestCache::start("model-cache").await;
    let cache = momento.model_cache(|b| b).await;
    let conn = CachedConnection::new(db.conn.clone(), &cache);
    let mut checked = 0;
    for (setup, sql, prepared, writes) in statements(kind) {
        if let Some(setup) = setup {
            db.conn.execute_unprepared(setup).await.unwrap();
        }
        for method in METHODS {
            if !prepared && method != Method::ExecuteUnprepared {
                continue;
            }
            check(&cache, &conn, method, sql, writes).await;
            checked += 1;
        }
    }
    println!("{kind:?}: {checked} statement × method pairs");
    db.cleanup().await;
}

per_database!(every_write_statement_through_every_method_invalidates);

//! Never stale after a write: every write kind through a `CachedConnection` invalidates the
//! cached reads of its tables, on SQLite, PostgreSQL and MariaDB; transactions invalidate after
//! commit only; joins are invalidated by writes to the joined table; a second cache sharing the
//! backend never reads stale.

mod common;

use std::time::{Duration, Instant};

use common::entities::{product, user, user_group};
use common::{Db, TestCache, TestDb};
use momento_lite::{Fault, Rpc};
use momento_seaorm_cache::{CacheQueryExt, CacheStatus, CachedConnection, Consistency, ModelCache};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set, Statement, TransactionSession, TransactionTrait,
};
use tonic::Code;

async fn setup(kind: Db) -> Option<(TestDb, TestCache, ModelCache, CachedConnection)> {
    let db = TestDb::new(kind).await?;
    db.seed().await;
    let momento = TestCache::start("model-cache").await;
    let cache = momento.model_cache(|b| b).await;
    let conn = CachedConnection::new(db.conn.clone(), &cache);
    Some((db, momento, cache, conn))
}

/// Reads all users in id order through the cache.
async fn users(cache: &ModelCache, conn: &CachedConnection) -> (Vec<user::Model>, CacheStatus) {
    let read = user::Entity::find()
        .order_by_asc(user::Column::Id)
        .cached(cache)
        .all_with_status(conn)
        .await
        .unwrap();
    (read.value, read.status)
}

/// Warms the cache, runs `write`, and checks the next read misses and equals the database.
async fn assert_invalidates(
    what: &str,
    cache: &ModelCache,
    conn: &CachedConnection,
    write: impl std::future::Future<Output = ()>,
) {
    users(cache, conn).await;
    assert_eq!(users(cache, conn).await.1, CacheStatus::Hit, "{what}: warm");
    write.await;
    let (after, status) = users(cache, conn).await;
    assert_eq!(status, CacheStatus::Miss, "{what}: invalidated");
    let truth = user::Entity::find()
        .order_by_asc(user::Column::Id)
        .all(conn.inner())
        .await
        .unwrap();
    assert_eq!(after, truth, "{what}: equals the database");
}

fn new_user(name: &str) -> user::ActiveModel {
    user::ActiveModel {
        username: Set(name.to_owned()),
        birthday: Set(chrono::DateTime::from_timestamp(946_684_800, 0).unwrap()),
        age: Set(40),
        is_active: Set(true),
        account_balance: Set(1.5),
        group_id: Set(Some(1)),
        ..Default::default()
    }
}

async fn every_write_kind_invalidates(kind: Db) {
    let Some((db, _momento, cache, conn)) = setup(kind).await else {
        return;
    };
    let c = &conn;
    assert_invalidates("insert", &cache, c, async {
        new_user("inserted").insert(c).await.unwrap();
    })
    .await;
    assert_invalidates("update", &cache, c, async {
        let mut u = user::Entity::find_by_id(1)
            .one(c)
            .await
            .unwrap()
            .unwrap()
            .into_active_model();
        u.age = Set(30);
        u.update(c).await.unwrap();
    })
    .await;
    assert_invalidates("save", &cache, c, async {
        let mut u = user::Entity::find_by_id(2)
            .one(c)
            .await
            .unwrap()
            .unwrap()
            .into_active_model();
        u.username = Set("saved".to_owned());
        u.save(c).await.unwrap();
    })
    .await;
    assert_invalidates("delete", &cache, c, async {
        let u = user::Entity::find()
            .filter(user::Column::Username.eq("inserted"))
            .one(c)
            .await;
        u.unwrap()
            .unwrap()
            .into_active_model()
            .delete(c)
            .await
            .unwrap();
    })
    .await;
    assert_invalidates("insert_many", &cache, c, async {
        user::Entity::insert_many([new_user("m1"), new_user("m2")])
            .exec(c)
            .await
            .unwrap();
    })
    .await;
    assert_invalidates("update_many", &cache, c, async {
        user::Entity::update_many()
            .col_expr(user::Column::Age, Expr::value(77))
            .filter(user::Column::Username.starts_with("m"))
            .exec(c)
            .await
            .unwrap();
    })
    .await;
    assert_invalidates("delete_many", &cache, c, async {
        user::Entity::delete_many()
            .filter(user::Column::Username.eq("m2"))
            .exec(c)
            .await
            .unwrap();
    })
    .await;
    assert_invalidates("execute", &cache, c, async {
        let sql = match kind {
            Db::Postgres => r#"UPDATE "users" SET "age" = "age" + $1"#,
            _ => "UPDATE users SET age = age + ?",
        };
        let stmt = Statement::from_sql_and_values(db.backend(), sql, [1.into()]);
        c.execute_raw(stmt).await.unwrap();
    })
    .await;
    assert_invalidates("execute_unprepared", &cache, c, async {
        c.execute_unprepared("DELETE FROM users WHERE username = 'm1'")
            .await
            .unwrap();
    })
    .await;
    assert_invalidates("ddl", &cache, c, async {
        c.execute_unprepared("ALTER TABLE users ADD COLUMN nickname VARCHAR(20)")
            .await
            .unwrap();
    })
    .await;
    db.cleanup().await;
}

async fn writes_to_other_tables_leave_reads_cached(kind: Db) {
    let Some((db, _momento, cache, conn)) = setup(kind).await else {
        return;
    };
    users(&cache, &conn).await;
    product::ActiveModel {
        sku: Set("p1".to_owned()),
        title: Set("t".to_owned()),
    }
    .insert(&conn)
    .await
    .unwrap();
    assert_eq!(users(&cache, &conn).await.1, CacheStatus::Hit);
    db.cleanup().await;
}

async fn transactions_invalidate_after_commit_only(kind: Db) {
    let Some((db, _momento, cache, conn)) = setup(kind).await else {
        return;
    };
    users(&cache, &conn).await;

    let txn = conn.begin().await.unwrap();
    new_user("rolled back").insert(&txn).await.unwrap();
    txn.rollback().await.unwrap();
    assert_eq!(
        users(&cache, &conn).await.1,
        CacheStatus::Hit,
        "rollback: nothing invalidated"
    );

    let txn = conn.begin().await.unwrap();
    new_user("committed").insert(&txn).await.unwrap();
    let inside = user::Entity::find()
        .cached(&cache)
        .all_with_status(&txn)
        .await
        .unwrap();
    assert_eq!(inside.status, CacheStatus::Bypass);
    txn.commit().await.unwrap();
    let (after, status) = users(&cache, &conn).await;
    assert_eq!(status, CacheStatus::Miss, "commit invalidates");
    assert!(after.iter().any(|u| u.username == "committed"));

    // Nested: the inner commit hands its tables to the outer transaction...
    let outer = conn.begin().await.unwrap();
    let inner = outer.begin().await.unwrap();
    new_user("nested").insert(&inner).await.unwrap();
    inner.commit().await.unwrap();
    assert_eq!(
        users(&cache, &conn).await.1,
        CacheStatus::Hit,
        "not before the outer commit"
    );
    outer.commit().await.unwrap();
    assert_eq!(
        users(&cache, &conn).await.1,
        CacheStatus::Miss,
        "after the outer commit"
    );

    // ...an inner rollback drops them, and an outer rollback drops everything.
    users(&cache, &conn).await;
    let outer = conn.begin().await.unwrap();
    let inner = outer.begin().await.unwrap();
    new_user("inner rolled back").insert(&inner).await.unwrap();
    inner.rollback().await.unwrap();
    outer.commit().await.unwrap();
    assert_eq!(
        users(&cache, &conn).await.1,
        CacheStatus::Hit,
        "inner rollback"
    );
    let outer = conn.begin().await.unwrap();
    let inner = outer.begin().await.unwrap();
    new_user("outer rolled back").insert(&inner).await.unwrap();
    inner.commit().await.unwrap();
    outer.rollback().await.unwrap();
    assert_eq!(
        users(&cache, &conn).await.1,
        CacheStatus::Hit,
        "outer rollback"
    );

    // The closure form commits on Ok.
    conn.transaction::<_, _, sea_orm::DbErr>(|txn| {
        Box::pin(async move {
            new_user("closure").insert(txn).await?;
            Ok(())
        })
    })
    .await
    .unwrap();
    let (after, status) = users(&cache, &conn).await;
    assert_eq!(status, CacheStatus::Miss);
    assert!(after.iter().any(|u| u.username == "closure"));
    db.cleanup().await;
}

async fn a_write_to_the_joined_table_invalidates_the_join(kind: Db) {
    let Some((db, _momento, cache, conn)) = setup(kind).await else {
        return;
    };
    let join = || {
        user_group::Entity::find()
            .find_also_related(user::Entity)
            .filter(user_group::Column::Id.eq(1))
            .order_by_asc(user::Column::Id)
    };
    join().cached(&cache).all(&conn).await.unwrap();
    assert_eq!(
        join()
            .cached(&cache)
            .all_with_status(&conn)
            .await
            .unwrap()
            .status,
        CacheStatus::Hit
    );
    new_user("joined").insert(&conn).await.unwrap();
    let read = join().cached(&cache).all_with_status(&conn).await.unwrap();
    assert_eq!(read.status, CacheStatus::Miss);
    assert_eq!(read.value, join().all(conn.inner()).await.unwrap());
    assert!(read
        .value
        .iter()
        .any(|(_, u)| u.as_ref().unwrap().username == "joined"));
    db.cleanup().await;
}

async fn a_second_cache_never_reads_stale(kind: Db) {
    let Some((db, momento, writer_cache, writer)) = setup(kind).await else {
        return;
    };
    let reader_cache = momento.model_cache(|b| b).await;
    let reader = CachedConnection::new(db.conn.clone(), &reader_cache);
    let by_pk = || reader_cache.wrap(user::Entity);
    assert_eq!(
        by_pk()
            .find_by_pk_with_status(&reader, 1)
            .await
            .unwrap()
            .status,
        CacheStatus::Miss
    );
    assert_eq!(
        by_pk()
            .find_by_pk_with_status(&reader, 1)
            .await
            .unwrap()
            .status,
        CacheStatus::Hit
    );
    let mut u = user::Entity::find_by_id(1)
        .one(&writer)
        .await
        .unwrap()
        .unwrap()
        .into_active_model();
    u.username = Set("renamed elsewhere".to_owned());
    u.update(&writer).await.unwrap();
    let read = by_pk().find_by_pk_with_status(&reader, 1).await.unwrap();
    assert_eq!(read.status, CacheStatus::Miss);
    assert_eq!(read.value.unwrap().username, "renamed elsewhere");
    let _ = writer_cache;
    db.cleanup().await;
}

per_database!(
    every_write_kind_invalidates,
    writes_to_other_tables_leave_reads_cached,
    transactions_invalidate_after_commit_only,
    a_write_to_the_joined_table_invalidates_the_join,
    a_second_cache_never_reads_stale,
);

/// Reads user 1 through `cache`: its name and how it was served.
async fn name_of(cache: &ModelCache, conn: &CachedConnection) -> (String, CacheStatus) {
    let read = cache
        .wrap(user::Entity)
        .find_by_pk_with_status(conn, 1)
        .await
        .unwrap();
    (read.value.unwrap().username, read.status)
}

/// Reads user 1 through `cache` with a query of its own, so under another key than
/// [`name_of`]'s: its name and how it was served.
async fn name_by_query(cache: &ModelCache, conn: &CachedConnection) -> (String, CacheStatus) {
    let read = user::Entity::find_by_id(1)
        .cached(cache)
        .one_with_status(conn)
        .await
        .unwrap();
    (read.value.unwrap().username, read.status)
}

/// Renames user 1 through `conn` (so the write invalidates through its cache).
async fn rename(conn: &CachedConnection, name: &str) {
    let mut u = user::Entity::find_by_id(1)
        .one(conn)
        .await
        .unwrap()
        .unwrap()
        .into_active_model();
    u.username = Set(name.to_owned());
    u.update(conn).await.unwrap();
}

#[tokio::test]
async fn bounded_staleness_catches_up_within_its_window() {
    let (db, momento, strict, _) = setup(Db::Sqlite).await.unwrap();
    // Long, so that "within the window" holds on a loaded machine: every step up to the stale
    // read takes milliseconds.
    let window = Duration::from_secs(4);
    let bounded = || momento.model_cache(|b| b.consistency(Consistency::Bounded(window)));
    // Two processes in bounded mode (two caches with their own in-process state) on one
    // momento-lite, and a strict one.
    let (reader_cache, writer_cache) = (bounded().await, bounded().await);
    let reader = CachedConnection::new(db.conn.clone(), &reader_cache);
    let writer = CachedConnection::new(db.conn.clone(), &writer_cache);
    let strict_conn = CachedConnection::new(db.conn.clone(), &strict);
    let faults = momento.server.faults();

    // The reader's in-process generations are taken during this read: no earlier than it
    // starts, no later than it returns.
    let first_read_started = Instant::now();
    assert_eq!(
        name_of(&reader_cache, &reader).await,
        ("user1".to_owned(), CacheStatus::Miss)
    );
    let first_read_returned = Instant::now();

    // A bounded hit is one plain Get: with every GetBatch failing it is still a hit, no fault,
    // and one request reaches the server. A strict read of the same row meets the fault.
    faults.inject(Fault::error(Code::Internal).on([Rpc::GetBatch]));
    let requests = faults.requests();
    assert_eq!(
        name_of(&reader_cache, &reader).await,
        ("user1".to_owned(), CacheStatus::Hit)
    );
    assert_eq!(faults.requests(), requests + 1, "a bounded hit is one call");
    assert_eq!(reader_cache.stats().faults, 0, "and not a GetBatch");
    assert_eq!(name_of(&strict, &strict_conn).await.1, CacheStatus::Miss);
    assert_eq!(strict.stats().faults, 1, "a strict read is a GetBatch");
    faults.clear();

    // The writer's process has fresh generations too, then writes. It reads under a key of
    // its own, so that the reader's key keeps the value stamped before the write: only the
    // reader's own generations decide what the reader sees.
    assert_eq!(
        name_by_query(&writer_cache, &writer).await,
        ("user1".to_owned(), CacheStatus::Miss)
    );
    assert_eq!(
        name_by_query(&writer_cache, &writer).await,
        ("user1".to_owned(), CacheStatus::Hit)
    );
    rename(&writer, "later").await;

    // Within the window the other process still serves what it had: stale, as bounded allows.
    assert!(
        first_read_started.elapsed() < window,
        "the test itself outlasted the window"
    );
    assert_eq!(
        name_of(&reader_cache, &reader).await,
        ("user1".to_owned(), CacheStatus::Hit),
        "another process's write is not seen within the window"
    );
    // The writer's own process sees its write at once.
    assert_eq!(
        name_by_query(&writer_cache, &writer).await,
        ("later".to_owned(), CacheStatus::Miss),
        "a process sees its own write at once"
    );

    // After the window the reader has caught up.
    let caught_up = first_read_returned + window + Duration::from_millis(200);
    tokio::time::sleep_until(caught_up.into()).await;
    assert_eq!(
        name_of(&reader_cache, &reader).await,
        ("later".to_owned(), CacheStatus::Miss),
        "another process's write is seen after the window"
    );

    // A write in the reader's own process is seen at once, though its generations are fresh.
    rename(&reader, "mine").await;
    assert_eq!(
        name_of(&reader_cache, &reader).await,
        ("mine".to_owned(), CacheStatus::Miss)
    );
}

#[tokio::test]
async fn explicit_invalidation_for_writes_that_bypass_the_connection() {
    let (db, _momento, cache, conn) = setup(Db::Sqlite).await.unwrap();
    let rename = |name: &'static str| {
        let plain = db.conn.clone();
        async move {
            let mut u = user::Entity::find_by_id(1)
                .one(&plain)
                .await
                .unwrap()
                .unwrap()
                .into_active_model();
            u.username = Set(name.to_owned());
            u.update(&plain).await.unwrap();
        }
    };
    let wrapped = cache.wrap(user::Entity);
    let read = || wrapped.find_by_pk_with_status(&conn, 1);
    read().await.unwrap();
    rename("a").await;
    assert_eq!(
        read().await.unwrap().status,
        CacheStatus::Hit,
        "a write around the connection is not seen"
    );
    cache.invalidate::<user::Entity>().await;
    assert_eq!(read().await.unwrap().value.unwrap().username, "a");

    rename("b").await;
    cache.invalidate_table("USERS").await;
    assert_eq!(read().await.unwrap().value.unwrap().username, "b");

    rename("c").await;
    cache.wrap(user::Entity).invalidate_by_pk(1).await;
    assert_eq!(read().await.unwrap().value.unwrap().username, "c");

    let query = || {
        user::Entity::find()
            .filter(user::Column::Id.eq(1))
            .cached(&cache)
    };
    query().all(&conn).await.unwrap();
    rename("d").await;
    query().invalidate(&conn).await;
    assert_eq!(query().all(&conn).await.unwrap()[0].username, "d");

    rename("e").await;
    cache.invalidate_all().await;
    assert_eq!(read().await.unwrap().value.unwrap().username, "e");
}

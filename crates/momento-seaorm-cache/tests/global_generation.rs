//! The global generation (`gen-all`) is held in process for a hold (50 ms by default) in strict
//! mode instead of being fetched with every hit, and a bump of it returns only the hold + 10%
//! after it is recorded. Two caches on one momento-lite stand for two processes; the server
//! counts the keys each hit fetched.

mod common;

use std::time::{Duration, Instant};

use common::entities::user;
use common::{Db, TestCache, TestDb};
use momento_seaorm_cache::generations::global_wait;
use momento_seaorm_cache::{CacheStatus, CachedConnection, ModelCache};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel, Set, TransactionSession,
    TransactionTrait,
};

/// The hold the tests use: long, so that the copy a hit holds is still fresh at the next step
/// even on a loaded machine.
const HOLD: Duration = Duration::from_secs(1);

/// A seeded SQLite database and a cache ("process") holding gen-all for `hold` on a
/// momento-lite of its own (kept alive by the returned `TestCache`); `None` without SQLite.
async fn one_process(hold: Duration) -> Option<(TestDb, TestCache, ModelCache)> {
    let db = TestDb::new(Db::Sqlite).await?;
    db.seed().await;
    let momento = TestCache::start("model-cache").await;
    let cache = momento
        .model_cache(|b| b.global_generation_hold(hold))
        .await;
    Some((db, momento, cache))
}

/// [`one_process`] with the [`HOLD`], and a second process on the same momento-lite.
async fn two_processes() -> Option<(TestDb, TestCache, ModelCache, ModelCache)> {
    let (db, momento, a) = one_process(HOLD).await?;
    let b = momento
        .model_cache(|b| b.global_generation_hold(HOLD))
        .await;
    Some((db, momento, a, b))
}

/// Sets user `id`'s age on a plain connection, behind the cache's back.
async fn set_age_behind_the_cache(db: &TestDb, id: i32, age: i32) {
    let row = user::Entity::find_by_id(id)
        .one(&db.conn)
        .await
        .unwrap()
        .unwrap();
    let mut row = row.into_active_model();
    row.age = Set(age);
    row.update(&db.conn).await.unwrap();
}

#[tokio::test]
async fn a_primary_key_hit_within_the_hold_fetches_three_keys_then_four_after_it() {
    // A hold long enough that no stall of a loaded machine outlasts it between two hits.
    let Some((db, momento, cache)) = one_process(HOLD).await else {
        return;
    };
    let users = cache.wrap(user::Entity);
    users.find_by_pk(&db.conn, 2).await.unwrap();
    let keys_of_a_hit = || async {
        let before = momento.server.keys_read();
        let read = users.find_by_pk_with_status(&db.conn, 2).await.unwrap();
        assert_eq!(read.status, CacheStatus::Hit);
        momento.server.keys_read() - before
    };
    // The miss created gen-all beside its lookup (this process had never looked it up) and
    // holds the generation it created: the hits within the hold use that copy (the value,
    // `#*`, the row's).
    assert_eq!(keys_of_a_hit().await, 3);
    assert_eq!(keys_of_a_hit().await, 3);
    assert_eq!(keys_of_a_hit().await, 3);
    tokio::time::sleep(HOLD + Duration::from_millis(20)).await;
    assert_eq!(
        keys_of_a_hit().await,
        4,
        "the copy expired: gen-all fetched again"
    );
    assert_eq!(keys_of_a_hit().await, 3);
    db.cleanup().await;
}

#[tokio::test]
async fn invalidate_all_in_one_process_reaches_a_hit_in_another_the_moment_it_returns() {
    let Some((db, _momento, a, b)) = two_processes().await else {
        return;
    };
    let (users_a, users_b) = (a.wrap(user::Entity), b.wrap(user::Entity));
    for round in 0..3 {
        users_a.find_by_pk(&db.conn, 2).await.unwrap();
        let warm = users_b.find_by_pk_with_status(&db.conn, 2).await.unwrap();
        assert_eq!(warm.status, CacheStatus::Hit, "round {round}");
        // B holds a fresh copy of gen-all now. A write the cache cannot see, then A
        // invalidates everything: once that returns, B must not serve the old row.
        let age = 60 + round;
        set_age_behind_the_cache(&db, 2, age).await;
        let started = Instant::now();
        a.invalidate_all().await;
        assert!(
            started.elapsed() >= global_wait(HOLD),
            "invalidate_all returned before the other processes' copies expired"
        );
        let read = users_b.find_by_pk_with_status(&db.conn, 2).await.unwrap();
        assert_eq!(read.status, CacheStatus::Miss, "round {round}");
        assert_eq!(read.value.unwrap().age, age, "round {round}");
    }
    db.cleanup().await;
}

#[tokio::test]
async fn a_write_of_unknown_tables_in_one_process_reaches_a_hit_in_another() {
    let Some((db, _momento, a, b)) = two_processes().await else {
        return;
    };
    let users_b = b.wrap(user::Entity);
    users_b.find_by_pk(&db.conn, 2).await.unwrap();
    assert_eq!(
        users_b
            .find_by_pk_with_status(&db.conn, 2)
            .await
            .unwrap()
            .status,
        CacheStatus::Hit
    );
    // DDL in a transaction leaves A without a catalog, so the update after it may reach any
    // table (triggers, views): it bumps gen-all at commit.
    let writer = CachedConnection::new(db.conn.clone(), &a);
    let txn = writer.begin().await.unwrap();
    for sql in [
        "CREATE TABLE gg_scratch (x INTEGER)",
        "UPDATE users SET age = 77 WHERE id = 2",
    ] {
        txn.execute_unprepared(sql).await.unwrap();
    }
    txn.commit().await.unwrap();
    let read = users_b.find_by_pk_with_status(&db.conn, 2).await.unwrap();
    assert_eq!(
        (read.status, read.value.unwrap().age),
        (CacheStatus::Miss, 77)
    );
    db.cleanup().await;
}

#[tokio::test]
async fn without_a_hold_every_hit_fetches_the_global_generation_and_bumps_do_not_wait() {
    let Some((db, momento, cache)) = one_process(Duration::ZERO).await else {
        return;
    };
    let users = cache.wrap(user::Entity);
    users.find_by_pk(&db.conn, 2).await.unwrap();
    for _ in 0..3 {
        let before = momento.server.keys_read();
        let read = users.find_by_pk_with_status(&db.conn, 2).await.unwrap();
        assert_eq!(read.status, CacheStatus::Hit);
        assert_eq!(momento.server.keys_read() - before, 4);
    }
    set_age_behind_the_cache(&db, 2, 31).await;
    cache.invalidate_all().await;
    let read = users.find_by_pk_with_status(&db.conn, 2).await.unwrap();
    assert_eq!(
        (read.status, read.value.unwrap().age),
        (CacheStatus::Miss, 31)
    );
    db.cleanup().await;
}

#[tokio::test]
async fn a_bump_the_cache_cannot_take_returns_after_the_deadline_without_waiting_the_hold() {
    let hold = Duration::from_secs(3);
    let Some((db, mut momento, cache)) = one_process(hold).await else {
        return;
    };
    let users = cache.wrap(user::Entity);
    users.find_by_pk(&db.conn, 2).await.unwrap();
    momento.server.stop().await;
    // Owed, not recorded: this process bypasses the cache, so nothing is gained by waiting out
    // the other processes' copies; the write costs the deadline (200 ms) at most.
    let started = Instant::now();
    cache.invalidate_all().await;
    assert!(
        started.elapsed() < hold,
        "an owed bump waited the hold: {:?}",
        started.elapsed()
    );
    assert_eq!(cache.stats().owed_invalidations, 1);
    let read = users.find_by_pk_with_status(&db.conn, 2).await.unwrap();
    assert_eq!(read.status, CacheStatus::Bypass);
    db.cleanup().await;
}

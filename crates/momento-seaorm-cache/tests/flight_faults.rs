//! Single flight does not depend on the cache answering: 200 concurrent misses of one key in one
//! process share their database load when the cache hangs past the deadline, when it is
//! stopped, and while the breaker is open. Queries are counted as PostgreSQL saw them (SeaORM's
//! metric callback on the connection); a table lock holds the first query until every caller
//! has arrived, so the count does not depend on timing.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::entities::user;
use common::{Db, TestCache, TestDb};
use momento_lite::Fault;
use momento_seaorm_cache::{BreakerConfig, BreakerState, ModelCache};
use sea_orm::{ConnectionTrait, TransactionTrait};
use tonic::Code;

const CALLERS: usize = 200;

/// A seeded PostgreSQL schema and a counter of the `SELECT`s on `users` it runs from now on.
async fn counted() -> Option<(TestDb, Arc<AtomicUsize>)> {
    let mut db = TestDb::new(Db::Postgres).await?;
    db.seed().await;
    let selects = Arc::new(AtomicUsize::new(0));
    let counter = selects.clone();
    db.conn.set_metric_callback(move |info| {
        let sql = &info.statement.sql;
        if sql.starts_with("SELECT") && sql.contains("\"users\"") {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    Some((db, selects))
}

/// Reads user 1 from `CALLERS` tasks at once while a lock holds every query on `users` for a
/// second; returns how many `SELECT`s PostgreSQL ran for them.
async fn concurrent_misses(cache: &ModelCache, db: &TestDb, selects: &AtomicUsize) -> usize {
    let lock = db.conn.begin().await.unwrap();
    lock.execute_unprepared("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let before = selects.load(Ordering::SeqCst);
    let reads: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (cache, conn) = (cache.clone(), db.conn.clone());
            tokio::spawn(async move { cache.wrap(user::Entity).find_by_pk(&conn, 1).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    lock.commit().await.unwrap();
    for read in reads {
        let user = read
            .await
            .unwrap()
            .expect("a cache fault never fails a read");
        assert_eq!(user.unwrap().username, "user1");
    }
    let queries = selects.load(Ordering::SeqCst) - before;
    println!("{CALLERS} concurrent misses: {queries} queries on users");
    queries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_cache_does_not_multiply_the_load() {
    let Some((db, selects)) = counted().await else {
        return;
    };
    let momento = TestCache::start("flight-hang").await;
    let cache = momento
        .patient_model_cache(|b| b.cache_timeout(Duration::from_millis(200)))
        .await;
    momento
        .server
        .faults()
        .inject(Fault::latency(Duration::from_secs(5)));
    let queries = concurrent_misses(&cache, &db, &selects).await;
    assert!(queries <= 2, "{CALLERS} callers made {queries} queries");
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_cache_does_not_multiply_the_load() {
    let Some((db, selects)) = counted().await else {
        return;
    };
    let mut momento = TestCache::start("flight-stopped").await;
    let cache = momento
        .model_cache(|b| b.cache_timeout(Duration::from_millis(200)))
        .await;
    momento.server.stop().await;
    let queries = concurrent_misses(&cache, &db, &selects).await;
    assert!(queries <= 2, "{CALLERS} callers made {queries} queries");
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_breaker_does_not_multiply_the_load() {
    let Some((db, selects)) = counted().await else {
        return;
    };
    let momento = TestCache::start("flight-breaker").await;
    let breaker = BreakerConfig {
        failure_threshold: 1,
        cool_down: Duration::from_secs(600),
    };
    let cache = momento.model_cache(|b| b.circuit_breaker(breaker)).await;
    momento
        .server
        .faults()
        .inject(Fault::error(Code::Unavailable));
    cache
        .wrap(user::Entity)
        .find_by_pk(&db.conn, 2)
        .await
        .unwrap();
    assert_eq!(cache.stats().breaker_state, Some(BreakerState::Open));
    let queries = concurrent_misses(&cache, &db, &selects).await;
    assert!(queries <= 2, "{CALLERS} callers made {queries} queries");
    assert_eq!(cache.stats().breaker_skips, CALLERS as u64);
    db.cleanup().await;
}

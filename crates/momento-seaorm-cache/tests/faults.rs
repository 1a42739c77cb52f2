//! The cache can fail, the app cannot: with faults injected into momento-lite, every read
//! returns exactly what the database returns, none fails, and the added latency stays within the
//! deadline (breaker closed) or near zero (breaker open).

mod common;

use std::time::{Duration, Instant};

use common::entities::user;
use common::{Db, TestCache, TestDb};
use momento_lite::{Fault, Rpc};
use momento_seaorm_cache::{BreakerConfig, BreakerState, CacheQueryExt, CacheStatus, ModelCache};
use sea_orm::EntityTrait;
use tonic::Code;

async fn seeded() -> (TestDb, TestCache) {
    let db = TestDb::new(Db::Sqlite).await.expect("SQLite");
    db.seed().await;
    (db, TestCache::start("model-cache").await)
}

/// Reads every user through the cache `n` times; each read must equal the database's answer.
async fn read_all_equal(cache: &ModelCache, db: &TestDb, n: usize) -> Vec<(CacheStatus, Duration)> {
    let expected = user::Entity::find().all(&db.conn).await.unwrap();
    let mut seen = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let read = user::Entity::find()
            .cached(cache)
            .all_with_status(&db.conn)
            .await;
        let read = read.expect("a cache fault never fails a read");
        assert_eq!(read.value, expected, "exactly what the database returns");
        seen.push((read.status, started.elapsed()));
    }
    seen
}

#[tokio::test]
async fn latency_above_the_deadline_costs_at_most_the_deadline_then_nothing() {
    let (db, momento) = seeded().await;
    let deadline = Duration::from_millis(200);
    // Far above the deadline, and below the SDK's own 15 s (Laptop): only the library's
    // deadline can end a read before the injected latency does.
    let latency = Duration::from_secs(8);
    let breaker = BreakerConfig {
        failure_threshold: 3,
        cool_down: Duration::from_secs(600),
    };
    let cache = momento
        .patient_model_cache(|b| b.cache_timeout(deadline).circuit_breaker(breaker))
        .await;
    read_all_equal(&cache, &db, 1).await; // warm the connection, store the value
    momento
        .server
        .faults()
        .inject(Fault::latency(latency).on([Rpc::Get, Rpc::GetBatch]));

    let requests = momento.server.faults().requests();
    let closed = read_all_equal(&cache, &db, 3).await;
    for (status, took) in &closed {
        assert_eq!(
            *status,
            CacheStatus::Miss,
            "the stored value was not waited for"
        );
        assert!(*took >= deadline, "it did wait for the cache: {took:?}");
        assert!(
            *took < latency / 2,
            "the deadline cut the read short, long before the injected latency: {took:?}"
        );
    }
    assert_eq!(
        momento.server.faults().requests(),
        requests + 3,
        "each read asked the cache once and stored nothing after the timeout"
    );
    let stats = cache.stats();
    assert_eq!(stats.timeouts, 3);
    assert_eq!(stats.breaker_state, Some(BreakerState::Open));

    // Open: reads go straight to the database, and not one request reaches the server.
    let requests = momento.server.faults().requests();
    let open = read_all_equal(&cache, &db, 20).await;
    assert!(open.iter().all(|(status, _)| *status == CacheStatus::Miss));
    assert_eq!(
        momento.server.faults().requests(),
        requests,
        "no cache call while open"
    );
    let stats = cache.stats();
    assert_eq!(stats.breaker_skips, 20);
    assert_eq!(stats.timeouts, 3, "no read waited for the cache again");
}

#[tokio::test]
async fn the_breaker_probes_after_the_cool_down_and_closes() {
    let (db, momento) = seeded().await;
    let breaker = BreakerConfig {
        failure_threshold: 3,
        cool_down: Duration::from_millis(300),
    };
    let cache = momento.model_cache(|b| b.circuit_breaker(breaker)).await;
    read_all_equal(&cache, &db, 1).await;
    momento
        .server
        .faults()
        .inject(Fault::error(Code::Unavailable));
    read_all_equal(&cache, &db, 3).await;
    assert_eq!(cache.stats().breaker_state, Some(BreakerState::Open));

    // Still failing at the first probe: the breaker opens again.
    tokio::time::sleep(Duration::from_millis(350)).await;
    let before = momento.server.faults().requests();
    read_all_equal(&cache, &db, 1).await;
    assert_eq!(momento.server.faults().requests(), before + 1, "one probe");
    assert_eq!(cache.stats().breaker_state, Some(BreakerState::Open));

    // Healthy at the next probe: the breaker closes and reads hit again.
    momento.server.faults().clear();
    tokio::time::sleep(Duration::from_millis(350)).await;
    read_all_equal(&cache, &db, 1).await;
    assert_eq!(cache.stats().breaker_state, Some(BreakerState::Closed));
    let statuses: Vec<_> = read_all_equal(&cache, &db, 3)
        .await
        .into_iter()
        .map(|s| s.0)
        .collect();
    assert_eq!(statuses, [CacheStatus::Hit; 3]);
    assert_eq!(cache.stats().breaker_opens, 2);
}

#[tokio::test]
async fn throttling_degrades_to_the_database() {
    let (db, momento) = seeded().await;
    let cache = momento.model_cache(|b| b.without_circuit_breaker()).await;
    // Looked up once while healthy: the process knows the generation keys, so a lookup is the
    // batch get alone (a process's first lookup also creates the keys it never looked up).
    read_all_equal(&cache, &db, 1).await;
    let loads = cache.stats().database_loads;
    momento
        .server
        .faults()
        .inject(Fault::error(Code::ResourceExhausted));
    let seen = read_all_equal(&cache, &db, 10).await;
    assert!(seen.iter().all(|(status, _)| *status == CacheStatus::Miss));
    let stats = cache.stats();
    assert_eq!(
        stats.faults, 10,
        "gets fail; sets after a failed get are skipped"
    );
    assert_eq!(stats.database_loads, loads + 10);
}

#[tokio::test]
async fn errors_on_a_fraction_of_calls_never_reach_the_caller() {
    let (db, momento) = seeded().await;
    let cache = momento.model_cache(|b| b.without_circuit_breaker()).await;
    momento
        .server
        .faults()
        .inject(Fault::error(Code::Unavailable).fraction(0.3));
    let seen = read_all_equal(&cache, &db, 200).await;
    let hits = seen.iter().filter(|(s, _)| *s == CacheStatus::Hit).count();
    assert!(
        hits > 60 && hits < 190,
        "some hits, some faults: {hits} hits of 200"
    );
    assert!(cache.stats().faults > 20, "{:?}", cache.stats());
}

#[tokio::test]
async fn a_server_stopped_mid_run_and_restarted() {
    let (db, mut momento) = seeded().await;
    let breaker = BreakerConfig {
        failure_threshold: 2,
        cool_down: Duration::from_millis(200),
    };
    let cache = momento.model_cache(|b| b.circuit_breaker(breaker)).await;
    assert_eq!(read_all_equal(&cache, &db, 2).await[1].0, CacheStatus::Hit);

    momento.server.stop().await;
    let down = read_all_equal(&cache, &db, 10).await;
    assert!(down.iter().all(|(status, _)| *status == CacheStatus::Miss));
    assert_eq!(cache.stats().breaker_state, Some(BreakerState::Open));

    momento.server.start_again().await.unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, _) = read_all_equal(&cache, &db, 1).await[0];
        if status == CacheStatus::Hit {
            break;
        }
        assert!(Instant::now() < deadline, "the cache never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(cache.stats().breaker_state, Some(BreakerState::Closed));
}

#[tokio::test]
async fn dropped_connections_are_survived() {
    let (db, momento) = seeded().await;
    let cache = momento.model_cache(|b| b.without_circuit_breaker()).await;
    read_all_equal(&cache, &db, 2).await;
    for _ in 0..5 {
        momento.server.faults().drop_connections();
        read_all_equal(&cache, &db, 3).await;
    }
}

/// The key of the generation `find_by_pk(pk)` of a user depends on.
fn user_row_generation(pk: i32) -> String {
    format!("model-cache:gen:users#id={pk}")
}

/// A cache whose process has read user 2 (so the table's generations exist and it has looked
/// them up), then `rpc` failing on the server.
async fn users_read_then_failing(rpc: Rpc) -> (TestDb, TestCache, ModelCache) {
    let (db, momento) = seeded().await;
    let cache = momento
        .patient_model_cache(|b| b.without_circuit_breaker())
        .await;
    cache
        .wrap(user::Entity)
        .find_by_pk(&db.conn, 2)
        .await
        .unwrap();
    momento
        .server
        .faults()
        .inject(Fault::error(Code::Unavailable).on([rpc]));
    (db, momento, cache)
}

#[tokio::test]
async fn a_first_row_read_creates_its_generation_beside_the_lookup() {
    // The batch get fails: a row generation created only after it is never created; one
    // created beside it is.
    let (db, momento, cache) = users_read_then_failing(Rpc::GetBatch).await;
    let users = cache.wrap(user::Entity);
    let read = users.find_by_pk_with_status(&db.conn, 1).await.unwrap();
    assert_eq!(read.status, CacheStatus::Miss);
    assert_eq!(cache.stats().faults, 1, "the batch get failed");
    assert!(
        momento.raw(&user_row_generation(1)).await.is_some(),
        "the row's generation was not created beside the failed lookup"
    );
    // With it in place, the next read's miss is two calls: the batch get and the store (no
    // create after the lookup).
    momento.server.faults().clear();
    let requests = momento.server.faults().requests();
    let miss = users.find_by_pk_with_status(&db.conn, 1).await.unwrap();
    assert_eq!(miss.status, CacheStatus::Miss);
    assert_eq!(momento.server.faults().requests(), requests + 2);
    let hit = users.find_by_pk_with_status(&db.conn, 1).await.unwrap();
    assert_eq!((hit.status, hit.value), (CacheStatus::Hit, read.value));
}

#[tokio::test]
async fn a_row_generation_that_cannot_be_created_stores_nothing() {
    // Every create fails, beside the lookup and after it: the value loaded is returned and
    // not stored (no stamp of absent generations stands for it).
    let (db, momento, cache) = users_read_then_failing(Rpc::SetIf).await;
    let users = cache.wrap(user::Entity);
    let read = users.find_by_pk_with_status(&db.conn, 1).await.unwrap();
    let expected = user::Entity::find_by_id(1).one(&db.conn).await.unwrap();
    assert_eq!((read.status, &read.value), (CacheStatus::Miss, &expected));
    assert!(momento.raw(&user_row_generation(1)).await.is_none());
    let key = read.key.unwrap();
    assert!(
        momento.raw(key.as_str()).await.is_none(),
        "a value was stored under an absent generation"
    );
    momento.server.faults().clear();
    let again = users.find_by_pk_with_status(&db.conn, 1).await.unwrap();
    assert_eq!((again.status, &again.value), (CacheStatus::Miss, &expected));
    let hit = users.find_by_pk_with_status(&db.conn, 1).await.unwrap();
    assert_eq!((hit.status, hit.value), (CacheStatus::Hit, expected));
}

//! Reliability without fault injection: one query for a thousand concurrent misses, leases
//! across processes, stale-while-revalidate, background writes, TTL jitter, stats.

mod common;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::entities::user;
use common::{Db, TestCache, TestDb};
use momento::cache::ItemGetTtlResponse;
use momento_lite::{Fault, Rpc};
use momento_seaorm_cache::{CacheKey, CacheQueryExt, CacheStatus, ModelCache};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult,
    QueryFilter, Set, Statement,
};

/// A deadline no healthy call on a loaded test machine reaches, for tests that count queries
/// (a timeout would add one). Used with `patient_model_cache`: the SDK's default configuration
/// gives up after 1.1 s on its own, which 1,000 concurrent calls on a loaded machine can reach.
const PATIENT: Duration = Duration::from_secs(10);

/// How long a test holds the Set of its first load in the server, below [`PATIENT`].
const HOLD_THE_SET: Duration = Duration::from_secs(4);

/// Counts the statements run on `db` whose SQL contains `marker`.
fn count_queries(db: &mut DatabaseConnection, marker: &'static str) -> Arc<AtomicUsize> {
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    db.set_metric_callback(move |info| {
        if info.statement.sql.contains(marker) {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    count
}

async fn seeded() -> (TestDb, TestCache) {
    let db = TestDb::new(Db::Sqlite).await.expect("SQLite");
    db.seed().await;
    (db, TestCache::start("model-cache").await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_misses_run_one_query() {
    let (mut db, momento) = seeded().await;
    let queries = count_queries(&mut db.conn, "FROM \"users\"");
    // A generous deadline: this test counts queries, and a timeout would add one.
    let cache = momento
        .patient_model_cache(|b| b.cache_timeout(PATIENT))
        .await;
    // The table's generations exist already (another key of it was read), so each lookup is
    // one batch get.
    cache
        .wrap(user::Entity)
        .find_by_pk(&db.conn, 2)
        .await
        .unwrap();
    let expected = user::Entity::find_by_id(1).one(&db.conn).await.unwrap();
    queries.store(0, Ordering::SeqCst);
    // The leader stores inline, so its flight lasts until its Set returns. Holding the Set
    // makes the 1,000 reads concurrent misses however slowly the machine runs: every lookup
    // is answered while the flight is in progress, and a caller that looked before the value
    // was stored finds the flight, not a value it missed.
    momento
        .server
        .faults()
        .inject(Fault::latency(HOLD_THE_SET).on([Rpc::Set]));

    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let (cache, conn) = (cache.clone(), db.conn.clone());
            tokio::spawn(async move { cache.wrap(user::Entity).find_by_pk(&conn, 1).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), expected);
    }
    let stats = cache.stats();
    assert_eq!(
        queries.load(Ordering::SeqCst),
        1,
        "one database query for 1,000 misses: {stats:?}"
    );
    assert_eq!(stats.database_loads, 2, "the warm-up and the one load");
    assert_eq!(stats.hits + stats.misses, 1001);
    assert_eq!(stats.faults, 0);
}

#[derive(Debug, FromQueryResult, serde::Serialize, serde::Deserialize)]
struct Count {
    n: i64,
}

/// A query that takes a while on SQLite, so concurrent readers really overlap.
fn slow_query() -> sea_orm::SelectorRaw<sea_orm::SelectModel<Count>> {
    Count::find_by_statement(Statement::from_string(
        DbBackend::Sqlite,
        "WITH RECURSIVE slow(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM slow WHERE x < 1500000) \
         SELECT COUNT(*) AS n FROM slow",
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_makes_one_loader_across_processes() {
    let (mut db, momento) = seeded().await;
    let queries = count_queries(&mut db.conn, "WITH RECURSIVE slow");
    // Two caches with their own in-process state stand for two processes sharing Momento.
    let lease = Duration::from_secs(10);
    let a = momento
        .patient_model_cache(|b| b.load_lease(lease).cache_timeout(PATIENT))
        .await;
    let b = momento
        .patient_model_cache(|b| b.load_lease(lease).cache_timeout(PATIENT))
        .await;
    let started = Instant::now();
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let cache: ModelCache = if i % 2 == 0 { a.clone() } else { b.clone() };
            let conn = db.conn.clone();
            tokio::spawn(async move { slow_query().cached(&cache).one(&conn).await })
        })
        .collect();
    for task in tasks {
        let row = task.await.unwrap().unwrap().unwrap();
        assert_eq!(row.n, 1_500_000);
    }
    assert_eq!(
        queries.load(Ordering::SeqCst),
        1,
        "one query across both processes"
    );
    assert!(
        started.elapsed() < lease,
        "waiters saw the value before the lease ran out"
    );
    assert_eq!(a.stats().database_loads + b.stats().database_loads, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_values_are_served_while_one_refresh_runs() {
    let (mut db, momento) = seeded().await;
    let queries = count_queries(&mut db.conn, "FROM \"users\"");
    let cache = momento
        .patient_model_cache(|b| b.ttl_jitter(0.0).cache_timeout(PATIENT))
        .await;
    let users = cache
        .wrap(user::Entity)
        .ttl(Duration::from_millis(1000))
        .stale_while_revalidate(Duration::from_secs(30));
    assert_eq!(
        users
            .find_by_pk_with_status(&db.conn, 1)
            .await
            .unwrap()
            .status,
        CacheStatus::Miss
    );
    assert_eq!(
        users
            .find_by_pk_with_status(&db.conn, 1)
            .await
            .unwrap()
            .status,
        CacheStatus::Hit
    );

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut renamed: user::ActiveModel = user::Entity::find_by_id(1)
        .one(&db.conn)
        .await
        .unwrap()
        .unwrap()
        .into();
    renamed.username = Set("renamed".to_owned());
    renamed.update(&db.conn).await.unwrap();
    queries.store(0, Ordering::SeqCst);

    let stale: Vec<_> = (0..20)
        .map(|_| {
            let (users, conn) = (users.clone(), db.conn.clone());
            tokio::spawn(async move { users.find_by_pk_with_status(&conn, 1).await })
        })
        .collect();
    let mut stale_serves = 0;
    for read in stale {
        let read = read.await.unwrap().unwrap();
        let name = read.value.unwrap().username;
        match read.status {
            CacheStatus::Stale => {
                assert_eq!(name, "user1", "the stale value, at once");
                stale_serves += 1;
            }
            CacheStatus::Hit => assert_eq!(name, "renamed", "after the refresh landed"),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(stale_serves >= 1);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let read = users.find_by_pk_with_status(&db.conn, 1).await.unwrap();
        if read.status == CacheStatus::Hit {
            assert_eq!(
                read.value.unwrap().username,
                "renamed",
                "refreshed in the background"
            );
            break;
        }
        assert!(Instant::now() < deadline, "the refresh never landed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        queries.load(Ordering::SeqCst),
        1,
        "one refresh however many stale reads"
    );
    assert!(cache.stats().stale_serves >= stale_serves);
}

#[tokio::test]
async fn background_writes_do_not_hold_up_the_caller() {
    let (db, momento) = seeded().await;
    // Every Set waits this long in the server before it is applied. A caller that waited for
    // its write could not return before it ends; the library's deadline and the SDK's are
    // longer, so the write still lands.
    const SET_DELAY: Duration = Duration::from_secs(4);
    let cache = momento
        .patient_model_cache(|b| {
            b.background_writes(true)
                .cache_timeout(SET_DELAY * 3)
                .without_circuit_breaker()
        })
        .await;
    momento
        .server
        .faults()
        .inject(Fault::latency(SET_DELAY).on([Rpc::Set]));

    let started = Instant::now();
    let miss = user::Entity::find()
        .cached(&cache)
        .all_with_status(&db.conn)
        .await
        .unwrap();
    let returned = started.elapsed();
    assert_eq!(miss.status, CacheStatus::Miss);
    assert_eq!(miss.value.len(), 2);
    assert!(
        returned < SET_DELAY,
        "the read returned after {returned:?}: it waited for its {SET_DELAY:?} Set"
    );
    let key = miss.key.unwrap();
    assert_eq!(
        momento.raw(key.as_str()).await,
        None,
        "the read returned while its Set was still held by the server"
    );

    // The write does land, once the server lets it through.
    let deadline = Instant::now() + SET_DELAY + Duration::from_secs(20);
    while momento.raw(key.as_str()).await.is_none() {
        assert!(
            Instant::now() < deadline,
            "the background write never landed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        started.elapsed() >= SET_DELAY,
        "the value landed only after the injected Set latency"
    );
    let stats = cache.stats();
    assert_eq!(
        (stats.faults, stats.timeouts),
        (0, 0),
        "the Set did not fail"
    );
    let hit = user::Entity::find()
        .cached(&cache)
        .all_with_status(&db.conn)
        .await
        .unwrap();
    assert_eq!(hit.status, CacheStatus::Hit);
    assert_eq!(hit.value, miss.value);
}

/// A background-writes cache whose Sets the server holds for [`HOLD_THE_SET`], and the momento
/// it runs on; reads of `users` on `db` are counted.
async fn held_background_store() -> (TestDb, TestCache, ModelCache, Arc<AtomicUsize>) {
    let (mut db, momento) = seeded().await;
    let queries = count_queries(&mut db.conn, "FROM \"users\"");
    let cache = momento
        .patient_model_cache(|b| {
            b.background_writes(true)
                .cache_timeout(PATIENT)
                .without_circuit_breaker()
        })
        .await;
    // The table's generations exist already, so a read under test is one batch get and one
    // row generation created.
    user::Entity::find()
        .cached(&cache)
        .all(&db.conn)
        .await
        .unwrap();
    queries.store(0, Ordering::SeqCst);
    momento
        .server
        .faults()
        .inject(Fault::latency(HOLD_THE_SET).on([Rpc::Set]));
    (db, momento, cache, queries)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_store_is_shared_with_reads_before_it_lands() {
    let (db, momento, cache, queries) = held_background_store().await;
    let users = cache.wrap(user::Entity);
    let miss = users.find_by_pk_with_status(&db.conn, 1).await.unwrap();
    assert_eq!(miss.status, CacheStatus::Miss);
    let key = miss.key.clone().unwrap();
    // The Set is held in the server: the value is not stored yet, and a read of it in this
    // process takes the loaded value instead of querying again.
    let again = users.find_by_pk_with_status(&db.conn, 1).await.unwrap();
    assert_eq!(
        momento.raw(key.as_str()).await,
        None,
        "the second read ran after the Set landed: the test did not exercise the window"
    );
    assert_eq!(again.value, miss.value);
    assert_eq!(
        queries.load(Ordering::SeqCst),
        1,
        "a read while this process's store was in flight queried the database again"
    );
    // Once the Set lands, reads are hits.
    let deadline = Instant::now() + HOLD_THE_SET + Duration::from_secs(20);
    while momento.raw(key.as_str()).await.is_none() {
        assert!(
            Instant::now() < deadline,
            "the background write never landed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let hit = users.find_by_pk_with_status(&db.conn, 1).await.unwrap();
    assert_eq!((hit.status, hit.value), (CacheStatus::Hit, miss.value));
    assert_eq!(queries.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_store_lands_before_invalidate_by_pk_deletes() {
    let (db, momento, cache, _) = held_background_store().await;
    let users = cache.wrap(user::Entity);
    let mut changed = Vec::new();
    for pk in [1, 2] {
        let before = users.find_by_pk(&db.conn, pk).await.unwrap().unwrap();
        // The row changes behind the cache's back and the caller says so: from now on no
        // read may return the value loaded before.
        let mut row: user::ActiveModel = before.clone().into();
        row.username = Set(format!("{}-renamed", before.username));
        changed.push(row.update(&db.conn).await.unwrap());
    }
    for pk in [1, 2] {
        users.invalidate_by_pk(pk).await;
        let key = common::pk_key::<user::Entity>(&format!(r#"{{"id":{pk}}}"#));
        assert_eq!(
            momento.raw(key.as_str()).await,
            None,
            "the held Set of pk {pk} landed after invalidate_by_pk's delete"
        );
    }
    // Right after: the read loads the change (it does not take the load from before).
    let after = users.find_by_pk(&db.conn, 1).await.unwrap().unwrap();
    assert_eq!(
        after, changed[0],
        "a read right after invalidate_by_pk took the old load"
    );
    // Once every held Set has gone through (pk 2 was not read again, so nothing of its own
    // overwrites a late one), reads still see the change.
    tokio::time::sleep(HOLD_THE_SET + Duration::from_millis(500)).await;
    let later = users.find_by_pk(&db.conn, 2).await.unwrap().unwrap();
    assert_eq!(
        later, changed[1],
        "the Set of the old value landed after the delete"
    );
}

/// Another process's miss loads a row, the row changes behind the caches and the caller
/// invalidates it, and only then does the miss's store land (held in the server): the late
/// value is never served, because `invalidate_by_pk` gave the row a new generation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_landing_after_invalidate_by_pk_is_never_served() {
    let read = |cache: ModelCache, db: DatabaseConnection| async move {
        let read = cache
            .wrap(user::Entity)
            .find_by_pk_with_status(&db, 1)
            .await;
        let read = read.unwrap();
        (read.status, read.value.into_iter().collect(), read.key)
    };
    let invalidate = |cache: ModelCache, _: DatabaseConnection| async move {
        cache.wrap(user::Entity).invalidate_by_pk(1).await;
    };
    a_late_store_is_never_served_after(read, invalidate).await;
}

/// The same race for a query and its `.invalidate`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_landing_after_a_query_invalidate_is_never_served() {
    let query = || user::Entity::find().filter(user::Column::Id.eq(1));
    let read = move |cache: ModelCache, db: DatabaseConnection| async move {
        let read = query().cached(&cache).all_with_status(&db).await.unwrap();
        (read.status, read.value, read.key)
    };
    let invalidate = move |cache: ModelCache, db: DatabaseConnection| async move {
        query().cached(&cache).invalidate(&db).await;
    };
    a_late_store_is_never_served_after(read, invalidate).await;
}

/// Reads user 1 with `read` on one cache while its store is held in the server; meanwhile
/// changes the row behind both caches and calls `invalidate` on a second cache (another
/// process); once the held store has landed, both caches must read the change.
async fn a_late_store_is_never_served_after<R, RF, I, IF>(read: R, invalidate: I)
where
    R: Fn(ModelCache, DatabaseConnection) -> RF,
    RF: Future<Output = (CacheStatus, Vec<user::Model>, Option<CacheKey>)> + Send + 'static,
    I: FnOnce(ModelCache, DatabaseConnection) -> IF,
    IF: Future<Output = ()>,
{
    let (mut db, momento) = seeded().await;
    let queries = count_queries(&mut db.conn, "FROM \"users\"");
    let loader = momento
        .patient_model_cache(|b| b.cache_timeout(PATIENT).without_circuit_breaker())
        .await;
    let invalidator = momento.model_cache(|b| b).await;
    for cache in [&loader, &invalidator] {
        // Both processes know the entity (its rows are tracked) and the table's generations
        // exist.
        cache
            .wrap(user::Entity)
            .find_by_pk(&db.conn, 2)
            .await
            .unwrap();
    }
    let before = user::Entity::find_by_id(1)
        .one(&db.conn)
        .await
        .unwrap()
        .unwrap();
    momento
        .server
        .faults()
        .inject(Fault::latency(HOLD_THE_SET).on([Rpc::Set]));
    let counted = queries.load(Ordering::SeqCst);
    let miss = tokio::spawn(read(loader.clone(), db.conn.clone()));
    let waited = Instant::now();
    while queries.load(Ordering::SeqCst) == counted {
        assert!(waited.elapsed() < PATIENT, "the miss never queried");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The miss has its row and its Set is held. The row changes behind both caches.
    let mut row: user::ActiveModel = before.clone().into();
    row.username = Set(format!("{}-renamed", before.username));
    let changed = row.update(&db.conn).await.unwrap();
    invalidate(invalidator.clone(), db.conn.clone()).await;
    let (status, rows, key) = miss.await.unwrap();
    assert_eq!((status, rows), (CacheStatus::Miss, vec![before]));
    let key = key.expect("a cached read has a key");
    assert!(
        momento.raw(key.as_str()).await.is_some(),
        "the held store did not land after the delete: the race was not forced"
    );
    momento.server.faults().clear();
    for (name, cache) in [("loader", loader), ("invalidator", invalidator)] {
        let (_, rows, _) = read(cache, db.conn.clone()).await;
        assert_eq!(
            rows,
            vec![changed.clone()],
            "{name}: the value stored after the invalidation was served"
        );
    }
}

#[tokio::test]
async fn ttl_jitter_spreads_expiry_below_the_ttl() {
    let (db, momento) = seeded().await;
    let ttl = Duration::from_secs(100);
    let cache = momento
        .model_cache(|b| b.default_ttl(ttl).ttl_jitter(0.5))
        .await;
    for name in ["a", "b", "c", "d", "e", "f"] {
        common::insert_user(&db.conn, name, None).await;
    }
    let mut remaining = Vec::new();
    for id in 1..=8 {
        let read = cache
            .wrap(user::Entity)
            .find_by_pk_with_status(&db.conn, id)
            .await
            .unwrap();
        let key = read.key.unwrap();
        match momento
            .client
            .item_get_ttl(momento.cache_name.as_str(), key.as_str())
            .await
            .unwrap()
        {
            ItemGetTtlResponse::Hit { remaining_ttl } => remaining.push(remaining_ttl),
            ItemGetTtlResponse::Miss => panic!("{key} was not stored"),
        }
    }
    for ttl_left in &remaining {
        assert!(
            *ttl_left <= ttl && *ttl_left >= ttl / 2 - Duration::from_secs(1),
            "{ttl_left:?}"
        );
    }
    let spread = remaining
        .iter()
        .max()
        .unwrap()
        .saturating_sub(*remaining.iter().min().unwrap());
    assert!(
        spread > Duration::from_secs(1),
        "TTLs differ: {remaining:?}"
    );
}

#[tokio::test]
async fn undecodable_values_and_oversize_results_are_counted() {
    let (db, momento) = seeded().await;
    let cache = momento.model_cache(|b| b).await;
    let key = &common::pk_key::<user::Entity>(r#"{"id":1}"#);
    momento
        .client
        .set(
            momento.cache_name.as_str(),
            key.as_str(),
            b"garbage".to_vec(),
        )
        .await
        .unwrap();
    cache
        .wrap(user::Entity)
        .find_by_pk(&db.conn, 1)
        .await
        .unwrap();
    let big = "x".repeat(6 * 1024 * 1024);
    common::insert_user(&db.conn, &big, None).await;
    let all = user::Entity::find()
        .cached(&cache)
        .all(&db.conn)
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    let stats = cache.stats();
    assert_eq!((stats.decode_failures, stats.oversize_skips), (1, 1));
    assert_eq!((stats.misses, stats.hits, stats.faults), (2, 0, 0));
}

#[test]
fn counters_reach_the_metrics_facade() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (db, momento) = seeded().await;
            let cache = momento.model_cache(|b| b).await;
            for _ in 0..3 {
                cache
                    .wrap(user::Entity)
                    .find_by_pk(&db.conn, 1)
                    .await
                    .unwrap();
            }
        });
    });
    let snapshot = snapshotter.snapshot().into_vec();
    let reads = |status: &str| {
        snapshot
            .iter()
            .find(|(key, _, _, _)| {
                key.key().name() == "momento_seaorm_cache_reads_total"
                    && key
                        .key()
                        .labels()
                        .any(|l| l.key() == "status" && l.value() == status)
            })
            .map(|(_, _, _, value)| match value {
                DebugValue::Counter(n) => *n,
                other => panic!("not a counter: {other:?}"),
            })
    };
    assert_eq!(reads("miss"), Some(1));
    assert_eq!(reads("hit"), Some(2));
}

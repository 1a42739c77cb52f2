//! How long a near entry may serve: never past its value's TTL or fresh-until, whatever
//! `max_staleness` says, in every mode — so the TTL still bounds staleness for changes the
//! cache is not told of, and for `Consistency::TtlOnly`, where writes drop nothing. Each read
//! is checked against the history of writes. SQLite and a `MemoryBackend` (one process).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::entities::user;
use common::{Db, TestDb};
use momento_seaorm_cache::{
    CacheStatus, CachedConnection, Consistency, MemoryBackend, ModelCache, NearCache,
};
use sea_orm::{ConnectionTrait, DatabaseConnection};

const TTL: Duration = Duration::from_millis(500);
/// Far longer than the TTL: only the value's lifetime can end a near entry in time.
const MAX_STALENESS: Duration = Duration::from_secs(3);

async fn seeded() -> TestDb {
    let db = TestDb::new(Db::Sqlite).await.expect("SQLite");
    db.seed().await;
    db
}

fn cache(consistency: Consistency) -> ModelCache {
    ModelCache::builder(MemoryBackend::new())
        .default_ttl(TTL)
        .ttl_jitter(0.0)
        .consistency(consistency)
        .near_cache(NearCache::new(1 << 20).max_staleness(MAX_STALENESS))
        .build()
        .unwrap()
}

async fn read(cache: &ModelCache, db: &DatabaseConnection) -> (u64, CacheStatus) {
    let read = cache
        .wrap(user::Entity)
        .find_by_pk_with_status(db, 1)
        .await
        .unwrap();
    let name = read.value.unwrap().username;
    (
        name.trim_start_matches('v').parse().unwrap_or(0),
        read.status,
    )
}

/// Writes versions 1..=30 of user 1 (through `writer`), 80 ms apart, while a reader reads;
/// returns every read that saw a version older than the newest write that returned more than
/// the TTL (+ 100 ms) before the read began, and how many reads were near hits.
async fn stale_reads<C: ConnectionTrait>(
    cache: &ModelCache,
    db: &TestDb,
    writer: &C,
) -> (Vec<(u64, u64, CacheStatus)>, usize) {
    let writes: Arc<Mutex<Vec<(Instant, u64)>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (cache, db, done) = (cache.clone(), db.conn.clone(), done.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while !done.load(Ordering::Acquire) {
                let began = Instant::now();
                let (version, status) = read(&cache, &db).await;
                seen.push((began, version, status));
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            seen
        })
    };
    for version in 1..=30u64 {
        let sql = format!("UPDATE users SET username = 'v{version}' WHERE id = 1");
        writer.execute_unprepared(&sql).await.unwrap();
        writes.lock().unwrap().push((Instant::now(), version));
        tokio::time::sleep(Duration::from_millis(80)).await;
    }
    tokio::time::sleep(TTL * 2).await;
    done.store(true, Ordering::Release);
    let writes = writes.lock().unwrap().clone();
    let (mut stale, mut near) = (Vec::new(), 0);
    for (began, version, status) in reader.await.unwrap() {
        let bound = began.checked_sub(TTL + Duration::from_millis(100));
        let floor = writes
            .iter()
            .take_while(|(at, _)| bound.is_some_and(|b| *at <= b))
            .last()
            .map_or(0, |(_, v)| *v);
        near += usize::from(status == CacheStatus::NearHit);
        if version < floor {
            stale.push((version, floor, status));
        }
    }
    (stale, near)
}

#[tokio::test]
async fn a_change_behind_the_caches_back_is_seen_within_the_ttl_despite_the_near_cache() {
    let db = seeded().await;
    let cache = cache(Consistency::Strict);
    // Raw SQL on the plain connection: nothing tells the cache; only the TTL bounds staleness.
    let (stale, near) = stale_reads(&cache, &db, &db.conn).await;
    assert!(
        stale.is_empty(),
        "{} reads older than the TTL allows: {:?}",
        stale.len(),
        &stale[..stale.len().min(5)]
    );
    assert!(near > 100, "the near cache served ({near} near hits)");
}

#[tokio::test]
async fn ttl_only_with_a_near_cache_keeps_the_ttl_bound() {
    let db = seeded().await;
    let cache = cache(Consistency::TtlOnly);
    // TtlOnly has no generations: even own writes drop nothing, the TTL is the bound.
    let conn = CachedConnection::new(db.conn.clone(), &cache);
    let (stale, near) = stale_reads(&cache, &db, &conn).await;
    assert!(
        stale.is_empty(),
        "{} reads older than the TTL allows: {:?}",
        stale.len(),
        &stale[..stale.len().min(5)]
    );
    assert!(near > 100, "the near cache served ({near} near hits)");
}

#[tokio::test]
async fn a_near_entry_is_not_served_past_its_fresh_until() {
    let db = seeded().await;
    let cache = cache(Consistency::Strict);
    let users = || {
        cache
            .wrap(user::Entity)
            .ttl(Duration::from_millis(300))
            .stale_while_revalidate(Duration::from_secs(10))
    };
    let status = || async {
        users()
            .find_by_pk_with_status(&db.conn, 1)
            .await
            .unwrap()
            .status
    };
    assert_eq!(status().await, CacheStatus::Miss);
    assert_eq!(status().await, CacheStatus::Hit);
    assert_eq!(status().await, CacheStatus::NearHit);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        status().await,
        CacheStatus::Stale,
        "past fresh-until the remote path serves it stale and refreshes it"
    );
}

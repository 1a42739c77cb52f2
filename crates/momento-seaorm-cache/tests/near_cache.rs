//! The near cache: hits from process memory with no backend request, own writes seen at once,
//! other processes' writes seen within `max_staleness` even when no message arrives, the size
//! rule and the byte capacity. SQLite and an in-process momento-lite through the official SDK.

mod common;

use std::time::Duration;

use common::entities::user;
use common::{Db, TestCache, TestDb};
use momento_seaorm_cache::{CacheStatus, CachedConnection, MemoryBackend, ModelCache, NearCache};
use sea_orm::{ConnectionTrait, DatabaseConnection};

const STALENESS: Duration = Duration::from_millis(150);

async fn seeded() -> TestDb {
    let db = TestDb::new(Db::Sqlite).await.expect("SQLite");
    db.seed().await;
    db
}

fn near() -> NearCache {
    NearCache::new(1 << 20).max_staleness(STALENESS)
}

/// Reads user 1 through `cache`: its name and how it was served.
async fn read(cache: &ModelCache, db: &DatabaseConnection) -> (String, CacheStatus) {
    let read = cache
        .wrap(user::Entity)
        .find_by_pk_with_status(db, 1)
        .await
        .unwrap();
    (read.value.unwrap().username, read.status)
}

async fn rename(db: &DatabaseConnection, name: &str) {
    let sql = format!("UPDATE users SET username = '{name}' WHERE id = 1");
    db.execute_unprepared(&sql).await.unwrap();
}

#[tokio::test]
async fn a_near_hit_makes_no_backend_request() {
    let db = seeded().await;
    let momento = TestCache::start("near-hit").await;
    let cache = momento.model_cache(|b| b.near_cache(near())).await;
    assert_eq!(read(&cache, &db.conn).await.1, CacheStatus::Miss);
    assert_eq!(read(&cache, &db.conn).await.1, CacheStatus::Hit);
    let requests = momento.server.faults().requests();
    for _ in 0..100 {
        assert_eq!(
            read(&cache, &db.conn).await,
            ("user1".to_owned(), CacheStatus::NearHit)
        );
    }
    assert_eq!(momento.server.faults().requests(), requests, "no request");
    let stats = cache.stats();
    assert_eq!((stats.near_hits, stats.hits, stats.misses), (100, 1, 1));
    assert_eq!(cache.near_stats().unwrap().entries, 1);
}

#[tokio::test]
async fn own_writes_are_seen_at_once() {
    let db = seeded().await;
    let momento = TestCache::start("near-own").await;
    let cache = momento.model_cache(|b| b.near_cache(near())).await;
    let conn = CachedConnection::new(db.conn.clone(), &cache);
    read(&cache, &db.conn).await;
    read(&cache, &db.conn).await;
    assert_eq!(read(&cache, &db.conn).await.1, CacheStatus::NearHit);
    for round in 0..20 {
        let name = format!("renamed {round}");
        conn.execute_unprepared(&format!(
            "UPDATE users SET username = '{name}' WHERE id = 1"
        ))
        .await
        .unwrap();
        // The very next read, with no pause: never the old name.
        assert_eq!(
            read(&cache, &db.conn).await,
            (name.clone(), CacheStatus::Miss)
        );
        assert_eq!(
            read(&cache, &db.conn).await,
            (name.clone(), CacheStatus::Hit)
        );
        assert_eq!(read(&cache, &db.conn).await, (name, CacheStatus::NearHit));
    }
    cache.invalidate_all().await;
    assert_eq!(
        read(&cache, &db.conn).await.1,
        CacheStatus::Miss,
        "gen-all flushes"
    );
    assert!(cache.near_stats().unwrap().flushes >= 1);
}

#[tokio::test]
async fn without_messages_another_cache_revalidates_within_max_staleness() {
    let db = seeded().await;
    let momento = TestCache::start("near-revalidate").await;
    let writer_cache = momento.model_cache(|b| b).await;
    let writer = CachedConnection::new(db.conn.clone(), &writer_cache);
    // No topic: nothing tells the reader of the write (as if every message were lost).
    let reader = momento.model_cache(|b| b.near_cache(near())).await;
    read(&reader, &db.conn).await;
    read(&reader, &db.conn).await;
    let (_, status) = read(&reader, &db.conn).await;
    assert_eq!(status, CacheStatus::NearHit);
    let kept_at = std::time::Instant::now();
    writer
        .execute_unprepared("UPDATE users SET username = 'elsewhere' WHERE id = 1")
        .await
        .unwrap();
    // Within max_staleness the near entry may still serve, and does: the bound is real.
    let (name, status) = read(&reader, &db.conn).await;
    if kept_at.elapsed() < STALENESS {
        assert_eq!((name.as_str(), status), ("user1", CacheStatus::NearHit));
    }
    tokio::time::sleep(STALENESS).await;
    let (name, status) = read(&reader, &db.conn).await;
    assert_eq!(name, "elsewhere", "revalidated after max_staleness");
    assert_eq!(status, CacheStatus::Miss);
    assert!(reader.near_stats().unwrap().revalidations >= 1);
}

#[tokio::test]
async fn an_unchanged_value_is_revalidated_with_one_request_and_served_near_again() {
    let db = seeded().await;
    let cache = ModelCache::builder(MemoryBackend::new())
        .near_cache(near())
        .build()
        .unwrap();
    read(&cache, &db.conn).await;
    read(&cache, &db.conn).await;
    assert_eq!(read(&cache, &db.conn).await.1, CacheStatus::NearHit);
    tokio::time::sleep(STALENESS).await;
    assert_eq!(
        read(&cache, &db.conn).await.1,
        CacheStatus::Hit,
        "revalidated"
    );
    assert_eq!(read(&cache, &db.conn).await.1, CacheStatus::NearHit);
}

#[tokio::test]
async fn a_memory_backend_process_uses_the_near_cache_with_local_drops() {
    let db = seeded().await;
    let cache = ModelCache::builder(MemoryBackend::new())
        .near_cache(near())
        .build()
        .unwrap();
    let conn = CachedConnection::new(db.conn.clone(), &cache);
    read(&cache, &db.conn).await;
    read(&cache, &db.conn).await;
    assert_eq!(read(&cache, &db.conn).await.1, CacheStatus::NearHit);
    conn.execute_unprepared("UPDATE users SET username = 'local' WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(
        read(&cache, &db.conn).await,
        ("local".into(), CacheStatus::Miss)
    );
    // A write to another table leaves the entry alone.
    read(&cache, &db.conn).await;
    conn.execute_unprepared("UPDATE user_groups SET name = 'x' WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(read(&cache, &db.conn).await.1, CacheStatus::NearHit);
    cache.invalidate_table("users").await;
    assert_eq!(read(&cache, &db.conn).await.1, CacheStatus::Miss);
}

#[tokio::test]
async fn values_over_the_size_rule_are_not_kept() {
    let db = seeded().await;
    rename(&db.conn, &"long name ".repeat(100)).await;
    let small = NearCache::new(1 << 20).max_value_bytes(256);
    let cache = ModelCache::builder(MemoryBackend::new())
        .near_cache(small)
        .build()
        .unwrap();
    read(&cache, &db.conn).await;
    for _ in 0..5 {
        assert_eq!(
            read(&cache, &db.conn).await.1,
            CacheStatus::Hit,
            "never near"
        );
    }
    let stats = cache.near_stats().unwrap();
    assert_eq!((stats.entries, stats.too_large), (0, 5));
}

#[tokio::test]
async fn capacity_is_counted_in_bytes() {
    let db = seeded().await;
    for i in 0..200 {
        common::insert_user(&db.conn, &format!("user-{i:03}-{}", "x".repeat(100)), None).await;
    }
    let capacity = 8 * 1024;
    let cache = ModelCache::builder(MemoryBackend::new())
        .near_cache(NearCache::new(capacity))
        .build()
        .unwrap();
    let users = cache.wrap(user::Entity);
    for _ in 0..2 {
        for id in 1..=200 {
            users.find_by_pk(&db.conn, id).await.unwrap();
        }
    }
    let stats = cache.near_stats().unwrap();
    assert!(stats.bytes <= capacity, "{} bytes held", stats.bytes);
    assert!(
        stats.entries > 0 && stats.entries < 200,
        "{} entries",
        stats.entries
    );
}

//! The near cache: hits from process memory with no backend request, own writes seen at once,
//! other processes' writes pushed over a topic, and seen within `max_staleness` when messages
//! are lost; gaps and broken streams flush; the size rule and the byte capacity. SQLite and an
//! in-process momento-lite (cache and topics) through the official SDK and its protocol.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::entities::user;
use common::{Db, TestCache, TestDb};
use momento_seaorm_cache::{
    CacheStatus, CachedConnection, MemoryBackend, ModelCache, NearCache, NearStats, NearTopic,
};
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
    let kept_at = Instant::now();
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

/// A near cache pushed over `momento`'s topic, with `staleness`.
fn pushed(momento: &TestCache, staleness: Duration) -> NearCache {
    let topic = NearTopic::new(
        momento.server.endpoint(),
        "token",
        momento.cache_name.as_str(),
    );
    NearCache::new(1 << 20)
        .max_staleness(staleness)
        .topic(topic)
}

/// Waits (up to 10 s) until `cache`'s near stats satisfy `done`.
async fn until(cache: &ModelCache, done: impl Fn(&NearStats) -> bool) -> NearStats {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = cache.near_stats().unwrap();
        if done(&stats) {
            return stats;
        }
        assert!(Instant::now() < deadline, "gave up waiting: {stats:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Two caches on one momento-lite with near caches pushed over its topic: the writer's and
/// the reader's, the reader holding user 1 near.
async fn two_processes(
    name: &str,
    staleness: Duration,
) -> (TestDb, TestCache, ModelCache, ModelCache) {
    let db = seeded().await;
    let momento = TestCache::start(name).await;
    let writer = momento
        .model_cache(|b| b.near_cache(pushed(&momento, staleness)))
        .await;
    let reader = momento
        .model_cache(|b| b.near_cache(pushed(&momento, staleness)))
        .await;
    for cache in [&writer, &reader] {
        until(cache, |s| s.healthy).await;
    }
    read(&reader, &db.conn).await;
    read(&reader, &db.conn).await;
    assert_eq!(read(&reader, &db.conn).await.1, CacheStatus::NearHit);
    (db, momento, writer, reader)
}

#[tokio::test]
async fn another_cache_drops_the_old_value_when_the_message_is_delivered() {
    // max_staleness of a minute: only the message can explain a fresh read.
    let (db, _momento, writer, reader) = two_processes("near-push", Duration::from_secs(60)).await;
    let conn = CachedConnection::new(db.conn.clone(), &writer);
    for round in 0..10u64 {
        conn.execute_unprepared(&format!(
            "UPDATE users SET username = 'v{round}' WHERE id = 1"
        ))
        .await
        .unwrap();
        until(&reader, |s| s.messages_received > round).await;
        assert_eq!(
            read(&reader, &db.conn).await,
            (format!("v{round}"), CacheStatus::Miss)
        );
        read(&reader, &db.conn).await;
        assert_eq!(read(&reader, &db.conn).await.1, CacheStatus::NearHit);
    }
    assert_eq!(writer.near_stats().unwrap().messages_published, 10);
    assert_eq!(reader.near_stats().unwrap().gaps, 0);
}

#[tokio::test]
async fn with_every_message_dropped_revalidation_bounds_staleness() {
    let staleness = Duration::from_millis(200);
    let (db, momento, writer, reader) = two_processes("near-dropped", staleness).await;
    let faults = momento.server.faults();
    faults.drop_topic_messages(1.0);
    let conn = CachedConnection::new(db.conn.clone(), &writer);
    // The entry was validated before the write: it may serve the old name until
    // `staleness` after that, never later.
    let validated = Instant::now();
    conn.execute_unprepared("UPDATE users SET username = 'lost' WHERE id = 1")
        .await
        .unwrap();
    let mut old_near_hits = 0;
    loop {
        let began = Instant::now();
        let (name, status) = read(&reader, &db.conn).await;
        if name == "lost" {
            break;
        }
        assert_eq!(status, CacheStatus::NearHit);
        assert!(
            began.duration_since(validated) < staleness,
            "stale past max_staleness"
        );
        old_near_hits += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        old_near_hits > 0,
        "the near cache served within its bound (no trivial pass)"
    );
    assert!(faults.topic_counts().dropped >= 1);
    assert_eq!(reader.near_stats().unwrap().messages_received, 0);
}

#[tokio::test]
async fn a_gap_flushes_and_a_broken_stream_bypasses_until_subscribed_again() {
    let (db, momento, writer, reader) = two_processes("near-gap", Duration::from_secs(60)).await;
    let faults = momento.server.faults();
    let conn = CachedConnection::new(db.conn.clone(), &writer);
    let write = |sql: &'static str| {
        let conn = conn.clone();
        async move { conn.execute_unprepared(sql).await.unwrap() }
    };
    // Messages about other tables: one delivered (the reader learns the position), one lost,
    // one delivered — its sequence number shows the gap, which flushes everything.
    write("UPDATE products SET title = 'a' WHERE 1 = 0").await;
    until(&reader, |s| s.messages_received >= 1).await;
    faults.drop_topic_messages(1.0);
    write("UPDATE products SET title = 'b' WHERE 1 = 0").await;
    until(&writer, |s| s.messages_published >= 2).await;
    faults.drop_topic_messages(0.0);
    write("UPDATE user_groups SET name = 'c' WHERE 1 = 0").await;
    let stats = until(&reader, |s| s.messages_received >= 2).await;
    assert_eq!(stats.gaps, 1);
    assert_eq!(
        read(&reader, &db.conn).await.1,
        CacheStatus::Hit,
        "flushed by the gap"
    );
    assert_eq!(read(&reader, &db.conn).await.1, CacheStatus::NearHit);
    // A broken stream: flushed, bypassed, then served near again once subscribed anew.
    faults.break_subscriptions();
    until(&reader, |s| s.gaps >= 2).await;
    until(&reader, |s| s.healthy).await;
    assert_eq!(
        read(&reader, &db.conn).await.1,
        CacheStatus::Hit,
        "flushed by the break"
    );
    assert_eq!(read(&reader, &db.conn).await.1, CacheStatus::NearHit);
    assert!(reader.near_stats().unwrap().flushes >= 2);
}

/// What a reader saw: when its read began, the version it read, whether it was a near hit.
type Seen = (Instant, u64, CacheStatus);

#[tokio::test]
async fn lossy_delivery_and_broken_streams_never_serve_past_max_staleness() {
    let staleness = Duration::from_millis(50);
    let margin = Duration::from_millis(25);
    let (db, momento, writer, reader) = two_processes("near-history", staleness).await;
    let faults = momento.server.faults();
    faults.drop_topic_messages(0.1);
    let conn = CachedConnection::new(db.conn.clone(), &writer);
    let writes: Arc<Mutex<Vec<(Instant, u64)>>> = Arc::default();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (reader, db, done) = (reader.clone(), db.conn.clone(), done.clone());
            tokio::spawn(async move {
                let mut seen: Vec<Seen> = Vec::new();
                while !done.load(std::sync::atomic::Ordering::Acquire) {
                    let began = Instant::now();
                    let (name, status) = read(&reader, &db).await;
                    let version = name.trim_start_matches('v').parse().unwrap_or(0);
                    seen.push((began, version, status));
                    tokio::task::yield_now().await;
                }
                seen
            })
        })
        .collect();
    for version in 1..=2000u64 {
        let sql = format!("UPDATE users SET username = 'v{version}' WHERE id = 1");
        conn.execute_unprepared(&sql).await.unwrap();
        writes.lock().unwrap().push((Instant::now(), version));
        if version % 250 == 0 {
            faults.break_subscriptions();
        }
    }
    done.store(true, std::sync::atomic::Ordering::Release);
    let writes = writes.lock().unwrap().clone();
    let (mut near_reads, mut stale) = (0, Vec::new());
    for reader in readers {
        for (began, version, status) in reader.await.unwrap() {
            // The newest write that returned more than max_staleness + margin before this read.
            let bound = began.checked_sub(staleness + margin);
            let floor = writes
                .iter()
                .take_while(|(at, _)| bound.is_some_and(|b| *at <= b))
                .last()
                .map_or(0, |(_, v)| *v);
            near_reads += usize::from(status == CacheStatus::NearHit);
            if version < floor {
                stale.push((version, floor, status));
            }
        }
    }
    let stats = reader.near_stats().unwrap();
    assert!(
        stale.is_empty(),
        "{} stale reads: {:?}",
        stale.len(),
        &stale[..stale.len().min(5)]
    );
    assert!(near_reads > 100, "only {near_reads} near reads");
    assert!(
        faults.topic_counts().dropped > 50,
        "{:?}",
        faults.topic_counts()
    );
    assert!(stats.gaps > 8, "{stats:?}");
}

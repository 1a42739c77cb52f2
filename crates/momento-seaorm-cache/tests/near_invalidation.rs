//! What drops near entries, besides writes through a `CachedConnection`: explicit invalidation
//! of one key (`invalidate_by_pk`, a query's `.invalidate`) here and in other processes; a
//! pushed write in `Consistency::Bounded` (the in-process generation copy must not bring the
//! old value back); and a message lost right after a resubscription (a gap that must be seen).
//! SQLite and an in-process momento-lite (cache and topics) through the official SDK.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::entities::user;
use common::{Db, TestCache, TestDb};
use momento_seaorm_cache::{
    CacheQueryExt, CacheStatus, CachedConnection, Consistency, ModelCache, ModelCacheBuilder,
    NearCache, NearStats, NearTopic,
};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter};

/// Long enough that only a drop (local or pushed) can explain a fresh read.
const A_MINUTE: Duration = Duration::from_secs(60);

async fn seeded() -> TestDb {
    let db = TestDb::new(Db::Sqlite).await.expect("SQLite");
    db.seed().await;
    db
}

/// A near cache pushed over `momento`'s topic.
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

/// Two near caches on one momento-lite, both subscribed.
async fn two_processes(
    momento: &TestCache,
    staleness: Duration,
    configure: fn(ModelCacheBuilder) -> ModelCacheBuilder,
) -> (ModelCache, ModelCache) {
    let a = momento
        .model_cache(|b| configure(b.near_cache(pushed(momento, staleness))))
        .await;
    let b = momento
        .model_cache(|b| configure(b.near_cache(pushed(momento, staleness))))
        .await;
    for cache in [&a, &b] {
        until(cache, |s| s.healthy).await;
    }
    (a, b)
}

async fn by_pk(cache: &ModelCache, db: &DatabaseConnection) -> (String, CacheStatus) {
    let read = cache
        .wrap(user::Entity)
        .find_by_pk_with_status(db, 1)
        .await
        .unwrap();
    (read.value.unwrap().username, read.status)
}

async fn by_query(cache: &ModelCache, db: &DatabaseConnection) -> (String, CacheStatus) {
    let read = user::Entity::find()
        .filter(user::Column::Id.eq(1))
        .cached(cache)
        .all_with_status(db)
        .await
        .unwrap();
    (read.value[0].username.clone(), read.status)
}

/// Renames user 1 behind the cache's back (no `CachedConnection`).
async fn rename(db: &DatabaseConnection, name: &str) {
    let sql = format!("UPDATE users SET username = '{name}' WHERE id = 1");
    db.execute_unprepared(&sql).await.unwrap();
}

/// `invalidate_by_pk` in one of two processes configured by `configure`.
async fn invalidate_by_pk_in(name: &str, configure: fn(ModelCacheBuilder) -> ModelCacheBuilder) {
    let db = seeded().await;
    let momento = TestCache::start(name).await;
    let (a, b) = two_processes(&momento, A_MINUTE, configure).await;
    for cache in [&a, &b] {
        by_pk(cache, &db.conn).await;
        by_pk(cache, &db.conn).await;
        assert_eq!(by_pk(cache, &db.conn).await.1, CacheStatus::NearHit);
    }
    let received = b.near_stats().unwrap().messages_received;
    rename(&db.conn, "renamed").await;
    a.wrap(user::Entity).invalidate_by_pk(1).await;
    assert_eq!(
        by_pk(&a, &db.conn).await,
        ("renamed".to_owned(), CacheStatus::Miss),
        "the invalidating process drops its own near entry at once"
    );
    until(&b, |s| s.messages_received > received).await;
    assert_eq!(
        by_pk(&b, &db.conn).await,
        ("renamed".to_owned(), CacheStatus::Hit),
        "the other process dropped its near entry on the message"
    );
}

#[tokio::test]
async fn invalidate_by_pk_drops_the_near_entry_here_and_in_other_processes() {
    invalidate_by_pk_in("near-inv-pk", |b| b).await;
}

#[tokio::test]
async fn invalidate_by_pk_drops_near_entries_in_ttl_only_mode_too() {
    invalidate_by_pk_in("near-inv-ttl", |b| b.consistency(Consistency::TtlOnly)).await;
}

#[tokio::test]
async fn a_query_invalidate_drops_the_near_entry_here_and_in_other_processes() {
    let db = seeded().await;
    let momento = TestCache::start("near-inv-query").await;
    let (a, b) = two_processes(&momento, A_MINUTE, |b| b).await;
    for cache in [&a, &b] {
        by_query(cache, &db.conn).await;
        by_query(cache, &db.conn).await;
        assert_eq!(by_query(cache, &db.conn).await.1, CacheStatus::NearHit);
    }
    let received = b.near_stats().unwrap().messages_received;
    rename(&db.conn, "requeried").await;
    user::Entity::find()
        .filter(user::Column::Id.eq(1))
        .cached(&a)
        .invalidate(&db.conn)
        .await;
    assert_eq!(
        by_query(&a, &db.conn).await,
        ("requeried".to_owned(), CacheStatus::Miss)
    );
    until(&b, |s| s.messages_received > received).await;
    assert_eq!(
        by_query(&b, &db.conn).await,
        ("requeried".to_owned(), CacheStatus::Hit)
    );
}

#[tokio::test]
async fn a_message_lost_right_after_resubscribing_is_seen_as_a_gap() {
    let db = seeded().await;
    let momento = TestCache::start("near-resub").await;
    let faults = momento.server.faults();
    let (writer, reader) = two_processes(&momento, A_MINUTE, |b| b).await;
    let conn = CachedConnection::new(db.conn.clone(), &writer);
    // One delivered message: the reader knows where the topic is.
    let received = reader.near_stats().unwrap().messages_received;
    conn.execute_unprepared("UPDATE products SET title = 'a' WHERE 1 = 0")
        .await
        .unwrap();
    until(&reader, |s| s.messages_received > received).await;
    // The streams break and come back.
    let gaps = reader.near_stats().unwrap().gaps;
    faults.break_subscriptions();
    until(&reader, |s| s.gaps > gaps).await;
    until(&reader, |s| s.healthy).await;
    until(&writer, |s| s.healthy).await;
    by_pk(&reader, &db.conn).await;
    by_pk(&reader, &db.conn).await;
    assert_eq!(by_pk(&reader, &db.conn).await.1, CacheStatus::NearHit);
    // The first message on the new stream is lost: the write to user 1.
    faults.drop_topic_messages(1.0);
    let published = writer.near_stats().unwrap().messages_published;
    conn.execute_unprepared("UPDATE users SET username = 'lost' WHERE id = 1")
        .await
        .unwrap();
    until(&writer, |s| s.messages_published > published).await;
    faults.drop_topic_messages(0.0);
    // The next one is delivered: its sequence number shows what was lost.
    let received = reader.near_stats().unwrap().messages_received;
    conn.execute_unprepared("UPDATE products SET title = 'b' WHERE 1 = 0")
        .await
        .unwrap();
    until(&reader, |s| s.messages_received > received).await;
    let (name, status) = by_pk(&reader, &db.conn).await;
    assert_eq!(
        (name.as_str(), status),
        ("lost", CacheStatus::Miss),
        "the gap flushed the near entry"
    );
}

/// What a reader saw: when its read began, the version it read, how it was served.
type Seen = (Instant, u64, CacheStatus);

#[tokio::test]
async fn bounded_mode_with_a_near_cache_never_serves_past_max_staleness() {
    // A window far longer than max_staleness: the in-process generation copy must not stand in
    // for the backend when a near entry is dropped or revalidated.
    let staleness = Duration::from_millis(100);
    let margin = Duration::from_millis(50);
    let db = seeded().await;
    let momento = TestCache::start("near-bounded").await;
    let faults = momento.server.faults();
    let bounded = |b: ModelCacheBuilder| b.consistency(Consistency::Bounded(A_MINUTE / 20));
    let (writer, reader_cache) = two_processes(&momento, staleness, bounded).await;
    faults.drop_topic_messages(0.1);
    let conn = CachedConnection::new(db.conn.clone(), &writer);
    let writes: Arc<Mutex<Vec<(Instant, u64)>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (cache, db, done) = (reader_cache.clone(), db.conn.clone(), done.clone());
            tokio::spawn(async move {
                let mut seen: Vec<Seen> = Vec::new();
                while !done.load(Ordering::Acquire) {
                    let began = Instant::now();
                    let (name, status) = by_pk(&cache, &db).await;
                    let version = name.trim_start_matches('v').parse().unwrap_or(0);
                    seen.push((began, version, status));
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                seen
            })
        })
        .collect();
    for version in 1..=300u64 {
        let sql = format!("UPDATE users SET username = 'v{version}' WHERE id = 1");
        conn.execute_unprepared(&sql).await.unwrap();
        writes.lock().unwrap().push((Instant::now(), version));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    done.store(true, Ordering::Release);
    let writes = writes.lock().unwrap().clone();
    let (mut near_reads, mut stale) = (0, Vec::new());
    for task in readers {
        for (began, version, status) in task.await.unwrap() {
            // The newest write that returned more than max_staleness + margin before the read.
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
    assert!(
        stale.is_empty(),
        "{} stale reads: {:?}",
        stale.len(),
        &stale[..stale.len().min(5)]
    );
    assert!(near_reads > 50, "only {near_reads} near reads");
    assert!(
        faults.topic_counts().dropped > 5,
        "{:?}",
        faults.topic_counts()
    );
}

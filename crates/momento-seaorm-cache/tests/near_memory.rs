//! The near cache's capacity is memory: with a counting global allocator (this test binary's
//! own), the heap a near cache holds after many small rows stays within 1.25× its capacity and
//! within 1.25× of the bytes its stats charge. SQLite and a `MemoryBackend`.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use common::entities::user;
use common::{Db, TestDb};
use momento_seaorm_cache::{MemoryBackend, ModelCache, NearCache};
use sea_orm::{ConnectionTrait, EntityTrait};

/// Counts the bytes live on the heap (requested sizes).
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const ROWS: i32 = 20_000;
const CAPACITY: u64 = 1 << 20;

/// 20,000 users with short names.
async fn many_rows() -> TestDb {
    let db = TestDb::new(Db::Sqlite).await.expect("SQLite");
    db.seed().await;
    db.conn
        .execute_unprepared(&format!(
            "WITH RECURSIVE n(i) AS (SELECT 3 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS}) \
             INSERT INTO users (id, username, birthday, age, is_active, account_balance, group_id) \
             SELECT i, 'u' || i, birthday, age, is_active, account_balance, NULL \
             FROM n, (SELECT * FROM users WHERE id = 1)"
        ))
        .await
        .unwrap();
    db
}

#[tokio::test(flavor = "current_thread")]
async fn a_near_cache_holds_no_more_memory_than_its_capacity_allows() {
    let db = many_rows().await;
    assert_eq!(
        user::Entity::find().all(&db.conn).await.unwrap().len(),
        ROWS as usize
    );
    let backend = MemoryBackend::new();
    // Fill the backend through a cache without a near cache, so that what the near cache's
    // reads add to the heap is the near cache.
    let filler = ModelCache::builder(backend.clone()).build().unwrap();
    for id in 1..=ROWS {
        filler
            .wrap(user::Entity)
            .find_by_pk(&db.conn, id)
            .await
            .unwrap();
    }
    // What a ModelCache without a near cache costs to build, to take away from the next one.
    let before = LIVE.load(Ordering::Relaxed);
    let _plain = ModelCache::builder(backend.clone()).build().unwrap();
    let base = LIVE.load(Ordering::Relaxed) - before;
    // From before the near cache exists: its slot table and fixed parts count too.
    let before = LIVE.load(Ordering::Relaxed) + base;
    let near = ModelCache::builder(backend)
        .near_cache(NearCache::new(CAPACITY))
        .build()
        .unwrap();
    for id in 1..=ROWS {
        near.wrap(user::Entity)
            .find_by_pk(&db.conn, id)
            .await
            .unwrap();
    }
    let stats = near.near_stats().unwrap(); // runs moka's pending evictions first
    let grown = (LIVE.load(Ordering::Relaxed) - before) as f64;
    let charged = stats.bytes as f64;
    println!(
        "near cache of {CAPACITY} bytes after {ROWS} rows: {} entries, {charged} bytes charged, \
         heap grew {grown} bytes ({:.2}x capacity, {:.2}x charged)",
        stats.entries,
        grown / CAPACITY as f64,
        grown / charged
    );
    assert!(stats.entries > 100, "{stats:?}");
    assert!(
        grown <= 1.25 * CAPACITY as f64,
        "heap grew {grown} bytes for a capacity of {CAPACITY}"
    );
    assert!(
        grown <= 1.25 * charged,
        "heap grew {grown} bytes, {charged} charged"
    );
}

//! A concurrency check of strict mode: tasks read and write one row through the cache while a
//! history of every operation's start, end and value is recorded; afterwards the history is
//! checked: no read that began after a write returned may see a value older than that write.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::entities::user;
use common::{Db, TestCache, TestDb};
use momento_seaorm_cache::{CacheStatus, CachedConnection, ModelCache};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};

#[derive(Debug, Clone, Copy)]
enum Op {
    Write { value: i32 },
    Read { value: i32, status: CacheStatus },
}

#[derive(Debug, Clone, Copy)]
struct Event {
    start: Instant,
    end: Instant,
    op: Op,
}

type History = Arc<Mutex<Vec<Event>>>;

/// How many writes the writer makes.
const WRITES: i32 = 60;
/// Reads (by all readers together) the writer waits for before each write, so reads and writes
/// interleave however slowly the machine runs.
const READS_PER_WRITE: usize = 6;
/// Reads each reader makes after the last write has returned.
const READS_AFTER: usize = 20;
/// A cap on the whole run, far above what it takes even on a loaded machine; reaching it fails
/// the test through the counts, it does not stop it early on a pass.
const CAP: Duration = Duration::from_secs(120);

/// Shared progress: reads done so far, and whether the last write has returned.
#[derive(Default)]
struct Progress {
    reads: AtomicUsize,
    writes_done: AtomicBool,
}

async fn writer(conn: CachedConnection, history: History, progress: Arc<Progress>, cap: Instant) {
    for value in 100..100 + WRITES {
        let reads_wanted = progress.reads.load(Ordering::SeqCst) + READS_PER_WRITE;
        while progress.reads.load(Ordering::SeqCst) < reads_wanted && Instant::now() < cap {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let start = Instant::now();
        let row = user::Entity::find_by_id(1)
            .one(&conn)
            .await
            .unwrap()
            .unwrap();
        let mut row = row.into_active_model();
        row.age = Set(value);
        row.update(&conn).await.unwrap();
        let end = Instant::now();
        history.lock().unwrap().push(Event {
            start,
            end,
            op: Op::Write { value },
        });
    }
    progress.writes_done.store(true, Ordering::SeqCst);
}

async fn reader(
    cache: ModelCache,
    conn: CachedConnection,
    history: History,
    progress: Arc<Progress>,
    cap: Instant,
) {
    let users = cache.wrap(user::Entity);
    let mut after_the_writes = 0;
    while after_the_writes < READS_AFTER && Instant::now() < cap {
        let writes_done = progress.writes_done.load(Ordering::SeqCst);
        let start = Instant::now();
        let read = users.find_by_pk_with_status(&conn, 1).await.unwrap();
        let end = Instant::now();
        let (value, status) = (read.value.unwrap().age, read.status);
        history.lock().unwrap().push(Event {
            start,
            end,
            op: Op::Read { value, status },
        });
        progress.reads.fetch_add(1, Ordering::SeqCst);
        after_the_writes += usize::from(writes_done);
    }
}

/// What a checked history holds.
#[derive(Debug)]
struct Counts {
    writes: usize,
    reads: usize,
    hits: usize,
    /// Reads that began after the last write returned, and how many of them were hits.
    reads_after: usize,
    hits_after: usize,
}

/// Every read sees at least the newest write that returned before the read began.
fn check(history: &[Event]) -> Counts {
    let mut writes: Vec<(Instant, i32)> = history
        .iter()
        .filter_map(|e| match e.op {
            Op::Write { value } => Some((e.end, value)),
            Op::Read { .. } => None,
        })
        .collect();
    writes.sort_by_key(|(end, _)| *end);
    let last_write = writes.last().map(|(end, _)| *end);
    let mut counts = Counts {
        writes: writes.len(),
        reads: 0,
        hits: 0,
        reads_after: 0,
        hits_after: 0,
    };
    for event in history {
        if let Op::Read { value, status } = event.op {
            let hit = usize::from(status == CacheStatus::Hit);
            counts.reads += 1;
            counts.hits += hit;
            if last_write.is_some_and(|end| end < event.start) {
                counts.reads_after += 1;
                counts.hits_after += hit;
            }
            let newest_before = writes
                .iter()
                .take_while(|(end, _)| *end < event.start)
                .map(|(_, v)| *v)
                .max()
                .unwrap_or(29);
            assert!(
                value >= newest_before,
                "a read that began after write {newest_before} returned saw {value}: {event:?}"
            );
        }
    }
    counts
}

async fn strict_reads_never_go_back_in_time(kind: Db) {
    let Some(db) = TestDb::new(kind).await else {
        return;
    };
    db.seed().await;
    let momento = TestCache::start("model-cache").await;
    // Two caches stand for two processes: one writes through its connection, both read.
    let (a, b) = (
        momento.model_cache(|b| b).await,
        momento.model_cache(|b| b).await,
    );
    let history: History = Arc::default();
    let progress = Arc::new(Progress::default());
    let cap = Instant::now() + CAP;
    let mut tasks = vec![tokio::spawn(writer(
        CachedConnection::new(db.conn.clone(), &a),
        history.clone(),
        progress.clone(),
        cap,
    ))];
    let readers = 6;
    for i in 0..readers {
        let cache = if i % 2 == 0 { a.clone() } else { b.clone() };
        let conn = CachedConnection::new(db.conn.clone(), &cache);
        tasks.push(tokio::spawn(reader(
            cache,
            conn,
            history.clone(),
            progress.clone(),
            cap,
        )));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let history = history.lock().unwrap().clone();
    let counts = check(&history);
    assert_eq!(counts.writes, WRITES as usize, "{counts:?}");
    assert!(
        counts.reads >= WRITES as usize * READS_PER_WRITE + readers * READS_AFTER,
        "reads interleaved with every write, then more: {counts:?}"
    );
    // Once the writes are over, each reader misses at most until a value stamped with the final
    // generations is stored; then it hits.
    assert!(counts.reads_after >= readers * READS_AFTER, "{counts:?}");
    assert!(
        counts.hits_after * 2 >= counts.reads_after,
        "the cache served the reads after the writes: {counts:?}"
    );
    assert_eq!(
        counts.hits as u64,
        a.stats().hits + b.stats().hits,
        "the history saw every hit the caches counted"
    );
    db.cleanup().await;
}

mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn strict_reads_never_go_back_in_time() {
        super::strict_reads_never_go_back_in_time(super::Db::Sqlite).await
    }
}

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn strict_reads_never_go_back_in_time() {
        super::strict_reads_never_go_back_in_time(super::Db::Postgres).await
    }
}

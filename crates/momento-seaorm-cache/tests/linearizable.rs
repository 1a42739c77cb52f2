//! A concurrency check of strict mode: tasks read and write one row through the cache while a
//! history of every operation's start, end and value is recorded; afterwards the history is
//! checked: no read that began after a write returned may see a value older than that write.
//! The second history adds failures in the middle: generation keys evicted (deleted with the
//! raw SDK) again and again, and the cache stopped for a run of writes and started again; the
//! only reads allowed to be older are the other process's, between the outage and the moment
//! the writer's owed invalidation is recorded, as the README states.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::entities::user;
use common::{Db, TestCache, TestDb};
use momento_seaorm_cache::{BreakerConfig, CacheStatus, CachedConnection, ModelCache};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};

#[derive(Debug, Clone, Copy)]
enum Op {
    Write {
        value: i32,
    },
    Read {
        value: i32,
        status: CacheStatus,
        /// 0: the writer's process (cache `a`), 1: the other one.
        process: u8,
    },
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
    (cache, process): (ModelCache, u8),
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
            op: Op::Read {
                value,
                status,
                process,
            },
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

/// Every read sees at least the newest write that returned before the read began, except the
/// reads `exempt` says may be older.
fn check(history: &[Event], exempt: impl Fn(&Event) -> bool) -> Counts {
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
        if let Op::Read { value, status, .. } = event.op {
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
                value >= newest_before || exempt(event),
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
            (cache, (i % 2) as u8),
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
    let counts = check(&history, |_| false);
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

/// What the failures did, and when (and the server, kept running for the reads after).
struct Chaos {
    momento: TestCache,
    evictions: usize,
    stopped_at: Instant,
    restarted_at: Instant,
    /// When the writer's owed invalidation was recorded after the restart.
    settled_at: Instant,
}

/// Deletes the row's generation keys again and again; stops the cache after a third of the
/// writes and starts it again ten writes later; waits for the writer's owed bump.
async fn chaos(momento: TestCache, writer: ModelCache, history: History) -> Chaos {
    let mut momento = momento;
    let writes = || {
        let history = history.lock().unwrap();
        history
            .iter()
            .filter(|e| matches!(e.op, Op::Write { .. }))
            .count()
    };
    let mut evictions = 0;
    let until = |n: usize| n as i32 >= WRITES / 3;
    while !until(writes()) {
        for key in ["model-cache:gen:users", "model-cache:gen-all"] {
            momento
                .client
                .delete(momento.cache_name.as_str(), key)
                .await
                .unwrap();
            evictions += 1;
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
    }
    momento.server.stop().await;
    let stopped_at = Instant::now();
    let resume_after = writes() + 10;
    while writes() < resume_after {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    momento.server.start_again().await.unwrap();
    let restarted_at = Instant::now();
    while writer.stats().owed_invalidations > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let settled_at = Instant::now();
    while writes() < WRITES as usize {
        for key in ["model-cache:gen:users", "model-cache:gen-all"] {
            momento
                .client
                .delete(momento.cache_name.as_str(), key)
                .await
                .unwrap();
            evictions += 1;
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
    }
    Chaos {
        momento,
        evictions,
        stopped_at,
        restarted_at,
        settled_at,
    }
}

async fn strict_reads_survive_evictions_and_an_outage(kind: Db) {
    let Some(db) = TestDb::new(kind).await else {
        return;
    };
    db.seed().await;
    let momento = TestCache::start("model-cache").await;
    // A short cool-down, so the breaker the outage opens lets the cache back in soon after.
    let breaker = BreakerConfig {
        failure_threshold: 5,
        cool_down: Duration::from_millis(100),
    };
    let (a, b) = (
        momento.model_cache(|b| b.circuit_breaker(breaker)).await,
        momento.model_cache(|b| b.circuit_breaker(breaker)).await,
    );
    let history: History = Arc::default();
    let progress = Arc::new(Progress::default());
    let cap = Instant::now() + CAP;
    let chaos = tokio::spawn(chaos(momento, a.clone(), history.clone()));
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
        let reader = reader(
            (cache, (i % 2) as u8),
            conn,
            history.clone(),
            progress.clone(),
            cap,
        );
        tasks.push(tokio::spawn(reader));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let chaos = chaos.await.unwrap();
    let history = history.lock().unwrap().clone();
    // The other process may read older values from the outage until the writer's owed bump
    // is recorded; the writer's process never does.
    let window = chaos.stopped_at..chaos.settled_at;
    let counts = check(&history, |event| {
        matches!(event.op, Op::Read { process: 1, .. }) && window.contains(&event.start)
    });
    let failures = a.stats().invalidation_failures;
    println!(
        "{kind:?}: {counts:?}; {} generation deletions; {failures} bumps owed during the \
         outage; recorded {:?} after the restart",
        chaos.evictions,
        chaos.settled_at - chaos.restarted_at
    );
    assert_eq!(counts.writes, WRITES as usize, "{counts:?}");
    assert!(chaos.evictions > 20, "{} deletions", chaos.evictions);
    assert!(
        failures >= 10,
        "the writes during the outage owed their bumps ({failures})"
    );
    assert!(
        chaos.settled_at - chaos.restarted_at <= Duration::from_secs(3),
        "the owed bump was recorded within 3 s of the restart"
    );
    assert!(
        counts.hits_after > 0,
        "the cache served reads again: {counts:?}"
    );
    drop(chaos.momento);
    db.cleanup().await;
}

mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn strict_reads_never_go_back_in_time() {
        super::strict_reads_never_go_back_in_time(super::Db::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn strict_reads_survive_evictions_and_an_outage() {
        super::strict_reads_survive_evictions_and_an_outage(super::Db::Sqlite).await
    }
}

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn strict_reads_never_go_back_in_time() {
        super::strict_reads_never_go_back_in_time(super::Db::Postgres).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn strict_reads_survive_evictions_and_an_outage() {
        super::strict_reads_survive_evictions_and_an_outage(super::Db::Postgres).await
    }
}

mod mysql {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn strict_reads_survive_evictions_and_an_outage() {
        super::strict_reads_survive_evictions_and_an_outage(super::Db::MySql).await
    }
}

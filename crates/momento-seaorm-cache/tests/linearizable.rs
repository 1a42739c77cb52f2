//! A concurrency check of strict mode: tasks read and write one row through the cache while a
//! history of every operation's start, end and value is recorded; afterwards the history is
//! checked: no read that began after a write returned may see a value older than that write.

mod common;

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

async fn writer(conn: CachedConnection, history: History, writes: i32) {
    for value in 100..100 + writes {
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
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn reader(cache: ModelCache, conn: CachedConnection, history: History, until: Instant) {
    let users = cache.wrap(user::Entity);
    while Instant::now() < until {
        let start = Instant::now();
        let read = users.find_by_pk_with_status(&conn, 1).await.unwrap();
        let end = Instant::now();
        let (value, status) = (read.value.unwrap().age, read.status);
        history.lock().unwrap().push(Event {
            start,
            end,
            op: Op::Read { value, status },
        });
    }
}

/// Every read sees at least the newest write that returned before the read began. Returns the
/// number of reads served from the cache, and of writes.
fn check(history: &[Event]) -> (usize, usize) {
    let mut writes: Vec<(Instant, i32)> = history
        .iter()
        .filter_map(|e| match e.op {
            Op::Write { value } => Some((e.end, value)),
            Op::Read { .. } => None,
        })
        .collect();
    writes.sort_by_key(|(end, _)| *end);
    let mut reads = 0;
    for event in history {
        if let Op::Read { value, status } = event.op {
            reads += usize::from(status == CacheStatus::Hit);
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
    (reads, writes.len())
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
    let until = Instant::now() + Duration::from_millis(1500);
    let mut tasks = vec![tokio::spawn(writer(
        CachedConnection::new(db.conn.clone(), &a),
        history.clone(),
        60,
    ))];
    for i in 0..6 {
        let cache = if i % 2 == 0 { a.clone() } else { b.clone() };
        let conn = CachedConnection::new(db.conn.clone(), &cache);
        tasks.push(tokio::spawn(reader(cache, conn, history.clone(), until)));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let history = history.lock().unwrap().clone();
    let (reads, writes) = check(&history);
    assert!(
        writes >= 10 && reads >= 100,
        "{writes} writes, {reads} reads"
    );
    let hits = a.stats().hits + b.stats().hits;
    assert!(hits > 0, "the cache served some reads");
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

//! Commit-to-invalidation lag under load: two writers keep committing to other tables and a
//! reader keeps reading through the cache while one more writer measures, per commit, the time
//! from the commit's return until the table's generation key has changed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::ConnectionTrait;

use super::{Cdc, AUDIT, PARENTS, PATIENCE};
use crate::common::Db;

/// Keeps writing `sql_for(i)` until `stop`; counts commits.
fn writer(
    cdc: &Cdc,
    stop: Arc<AtomicBool>,
    count: Arc<AtomicU64>,
    sql_for: impl Fn(u64) -> String + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    let conn = cdc.db.conn.clone();
    tokio::spawn(async move {
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) {
            conn.execute_unprepared(&sql_for(i))
                .await
                .expect("load write");
            count.fetch_add(1, Ordering::Relaxed);
            i += 1;
        }
    })
}

/// p50, p99 and max of `lags` in milliseconds.
fn percentiles(lags: &mut [Duration]) -> (f64, f64, f64) {
    lags.sort();
    let p = |q: f64| {
        let i = ((lags.len() as f64 * q) as usize).min(lags.len() - 1);
        lags[i].as_secs_f64() * 1e3
    };
    (p(0.50), p(0.99), p(1.0))
}

/// Prints p50/p99/max of the lag over `COMMITS` measured commits while two writers and a
/// reader run. Asserts only that every commit was invalidated (in time for `PATIENCE`).
pub async fn commit_to_invalidation_lag_under_load(kind: Db) {
    const COMMITS: u64 = 200;
    let Some(cdc) = Cdc::new(kind, "load").await else {
        return;
    };
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let writers = [
        writer(&cdc, stop.clone(), written.clone(), |i| {
            format!("UPDATE child SET note = 'n{i}' WHERE id = 10")
        }),
        writer(&cdc, stop.clone(), written.clone(), |i| {
            format!("UPDATE audit SET changes = {} WHERE id = 1", i + 1)
        }),
    ];
    let reads = Arc::new(AtomicU64::new(0));
    let reader = {
        let (stop, reads) = (stop.clone(), reads.clone());
        let cache = cdc.cache.clone();
        let conn = cdc.db.conn.clone();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                for sql in [PARENTS, AUDIT] {
                    super::read_with(&cache, &conn, sql).await;
                }
                reads.fetch_add(2, Ordering::Relaxed);
            }
        })
    };
    let key = format!("{}:gen:parent", cdc.cache.prefix());
    let mut lags = Vec::new();
    let began = Instant::now();
    for i in 0..COMMITS {
        let before = cdc.momento.raw(&key).await;
        cdc.write(&format!("UPDATE parent SET name = 'load{i}' WHERE id = 2"))
            .await;
        let committed = Instant::now();
        while cdc.momento.raw(&key).await == before {
            assert!(
                committed.elapsed() < PATIENCE,
                "commit {i} never invalidated"
            );
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        lags.push(committed.elapsed());
        tokio::time::sleep(Duration::from_millis((i * 7919) % 20)).await;
    }
    let elapsed = began.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    reader.await.unwrap();
    let (p50, p99, max) = percentiles(&mut lags);
    println!(
        "cdc {kind:?} under load: {COMMITS} measured commits, {:.0} other commits/s, {:.0} \
         cached reads/s: commit-to-invalidation p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms",
        written.load(Ordering::Relaxed) as f64 / elapsed,
        reads.load(Ordering::Relaxed) as f64 / elapsed,
    );
    cdc.finish().await;
}

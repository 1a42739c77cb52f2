//! Large values and the async worker: how long a cached read of a multi-megabyte result keeps
//! its runtime's worker from running other tasks.
//!
//! A ticker task on a single-threaded tokio runtime sleeps 1 ms in a loop and records the
//! longest gap between its ticks; meanwhile the same runtime runs cached reads (misses that
//! encode, hits that decode) of a ~4 MB JSON result compressed with zstd on a `MemoryBackend`.
//! The library compresses and decodes bodies over 64 KiB on the blocking pool, so the ticker
//! keeps ticking. The baseline runs the same `Envelope::encode`/`decode` inline on the worker,
//! as the library did before.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use momento_seaorm_cache::{
    CacheStatus, Compression, Envelope, Loader, MemoryBackend, ModelCache, Operation, ReadRequest,
    SerdeFormat,
};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use serde::{Deserialize, Serialize};

use crate::fixtures::BenchResult;

/// One row of the large result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    id: u64,
    name: String,
    note: String,
}

/// Produces the large result without a database and off the worker (as a driver that does not
/// block would), so the stall measured is the library's own.
struct BigRows(usize);

impl Loader for BigRows {
    type Output = Vec<Row>;

    async fn load<C: ConnectionTrait>(self, _db: &C) -> Result<Vec<Row>, DbErr> {
        let n = self.0;
        tokio::task::spawn_blocking(move || rows(n))
            .await
            .map_err(|e| DbErr::Custom(e.to_string()))
    }
}

fn rows(n: usize) -> Vec<Row> {
    (0..n as u64)
        .map(|id| Row {
            id,
            name: format!("user {id}"),
            note: format!("a note of some length about row {id} for the offload benchmark"),
        })
        .collect()
}

/// The longest ticker gaps (ms) and the value's sizes.
#[derive(Debug, Clone, Serialize)]
pub struct OffloadReport {
    pub rows: usize,
    pub json_bytes: usize,
    pub stored_bytes: usize,
    /// Longest gap between 1 ms ticks while the cache missed (loader + encode + set).
    pub cached_miss_max_stall_ms: f64,
    /// Longest gap while the cache hit (get + decode).
    pub cached_hit_max_stall_ms: f64,
    /// Longest gap while `Envelope::encode` ran inline on the worker.
    pub inline_encode_max_stall_ms: f64,
    /// Longest gap while `Envelope::decode` ran inline on the worker.
    pub inline_decode_max_stall_ms: f64,
}

impl OffloadReport {
    pub fn print(&self) {
        println!(
            "\noffload: {} rows, {} B of JSON stored as {} B (zstd); longest stall of a 1 ms ticker",
            self.rows, self.json_bytes, self.stored_bytes
        );
        println!(
            "  cached miss {:.2} ms (inline encode {:.2} ms), cached hit {:.2} ms (inline decode {:.2} ms)",
            self.cached_miss_max_stall_ms,
            self.inline_encode_max_stall_ms,
            self.cached_hit_max_stall_ms,
            self.inline_decode_max_stall_ms
        );
    }
}

/// Runs `work` on this single-threaded runtime while a ticker records its longest gap.
async fn longest_stall<F: std::future::Future<Output = BenchResult<()>>>(
    work: F,
) -> BenchResult<f64> {
    let done = Arc::new(AtomicBool::new(false));
    let worst = Arc::new(AtomicU64::new(0));
    let ticker = {
        let (done, worst) = (done.clone(), worst.clone());
        tokio::spawn(async move {
            let mut last = Instant::now();
            while !done.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(1)).await;
                let gap = last.elapsed().as_micros() as u64;
                worst.fetch_max(gap, Ordering::Relaxed);
                last = Instant::now();
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(5)).await;
    worst.store(0, Ordering::Relaxed);
    let result = work.await;
    tokio::time::sleep(Duration::from_millis(3)).await;
    done.store(true, Ordering::Relaxed);
    ticker.await?;
    result?;
    Ok(worst.load(Ordering::Relaxed) as f64 / 1000.0)
}

/// Runs the scenario on its own single-threaded runtime (one worker, so a blocked worker
/// shows), in a thread of its own (it may be called from inside another runtime).
pub fn run(rows_count: usize, rounds: usize) -> BenchResult<OffloadReport> {
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime
            .block_on(measure(rows_count, rounds))
            .map_err(|e| e.to_string())
    });
    let report = thread.join().map_err(|_| "the offload thread panicked")??;
    Ok(report)
}

async fn measure(rows_count: usize, rounds: usize) -> BenchResult<OffloadReport> {
    let db = sea_orm::Database::connect("sqlite::memory:").await?;
    let backend = MemoryBackend::builder()
        .max_capacity_bytes(256 * 1024 * 1024)
        .build()?;
    let cache = ModelCache::builder(backend)
        .compression(Compression::Zstd)
        .build()?;
    let envelope = Envelope {
        format: SerdeFormat::Json,
        compression: Compression::Zstd,
    };
    let sample = rows(rows_count);
    let json_bytes = serde_json::to_vec(&sample)?.len();
    let stored_bytes = envelope.encode(&sample)?.len();
    let (mut miss, mut hit, mut encode, mut decode) = (0f64, 0f64, 0f64, 0f64);
    for round in 0..rounds {
        let sql = format!("SELECT id, name, note FROM big WHERE round = {round}");
        let request = || {
            ReadRequest::new(
                Operation::All,
                Statement::from_string(DbBackend::Sqlite, &sql),
            )
        };
        let read = |expected: CacheStatus| {
            let (cache, db, request) = (&cache, &db, request());
            async move {
                let read = cache
                    .read_statement(db, request, |_| BigRows(rows_count))
                    .await?;
                if read.status != expected || read.value.len() != rows_count {
                    return Err(format!("expected a {expected} of {rows_count} rows").into());
                }
                // Dropping 40,000 rows is the caller's work, not the cache's: off the worker.
                tokio::task::spawn_blocking(move || drop(read)).await?;
                Ok(())
            }
        };
        miss = miss.max(longest_stall(read(CacheStatus::Miss)).await?);
        hit = hit.max(longest_stall(read(CacheStatus::Hit)).await?);
        let bytes = envelope.encode(&sample)?;
        encode = encode.max(
            longest_stall(async {
                std::hint::black_box(envelope.encode(&sample)?);
                Ok(())
            })
            .await?,
        );
        decode = decode.max(
            longest_stall(async {
                let back: Vec<Row> = envelope.decode(&bytes)?;
                tokio::task::spawn_blocking(move || drop(back)).await?;
                Ok(())
            })
            .await?,
        );
    }
    Ok(OffloadReport {
        rows: rows_count,
        json_bytes,
        stored_bytes,
        cached_miss_max_stall_ms: miss,
        cached_hit_max_stall_ms: hit,
        inline_encode_max_stall_ms: encode,
        inline_decode_max_stall_ms: decode,
    })
}

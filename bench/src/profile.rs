//! A bare hit loop for profilers (`valgrind --tool=callgrind`, `perf record`).
//!
//! The scenarios interleave several operations and time each one, which would blur a profile.
//! This runs one operation `iterations` times and nothing else, so the profile of the loop is
//! the profile of that hit path. Run it twice with different `--iterations` and subtract to get
//! instructions per hit without the setup.

use std::time::{Duration, Instant};

use momento_seaorm_cache::{CacheQueryExt, MemoryBackend};
use serde::Serialize;

use crate::fixtures::{self, BenchResult, Lite};
use crate::hit_target::{by_id, HitTarget, Mode, Variant, KEYED_USERS, RECENTLY_LOADED};

/// Which store the loop reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
pub enum LoopBackend {
    /// The in-process `MemoryBackend`.
    Memory,
    /// momento-lite through the official SDK.
    Momento,
    /// The machine's Redis (`REDIS_URL`) through `RedisBackend` (`raw-get`: the redis crate's
    /// own GET of the key on a multiplexed connection).
    Redis,
}

/// Which read the loop repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
pub enum LoopOp {
    /// `wrap(E).find_by_pk(&db, 1)`.
    FindByPk,
    /// `E::find().filter(id = 1).cached(&cache).all(&db)`.
    CachedAll,
    /// The backend's own get of the `find_by_pk` key (raw SDK get for `momento`).
    RawGet,
    /// The raw batch read of the keys a `Strict` hit reads: the SDK's `get_batch` for
    /// `momento`, the redis crate's own `MGET` for `redis`.
    RawGetBatch,
}

/// What the loop did.
#[derive(Debug, Clone, Serialize)]
pub struct LoopReport {
    pub backend: LoopBackend,
    pub mode: Mode,
    pub op: LoopOp,
    pub iterations: usize,
    pub mean_us: f64,
}

/// Runs `op` `iterations` times against `backend`, on a cache in `mode`.
pub async fn run(
    backend: LoopBackend,
    mode: Mode,
    op: LoopOp,
    iterations: usize,
) -> BenchResult<LoopReport> {
    let db = fixtures::sqlite_with_users(KEYED_USERS).await?;
    let took = match backend {
        LoopBackend::Memory => memory_loop(&db, mode, op, iterations).await?,
        LoopBackend::Momento => momento_loop(db, mode, op, iterations).await?,
        LoopBackend::Redis => redis_loop(&db, mode, op, iterations).await?,
    };
    let mean_us = took.as_secs_f64() * 1e6 / iterations.max(1) as f64;
    Ok(LoopReport {
        backend,
        mode,
        op,
        iterations,
        mean_us,
    })
}

async fn memory_loop(
    db: &sea_orm::DatabaseConnection,
    mode: Mode,
    op: LoopOp,
    iterations: usize,
) -> BenchResult<Duration> {
    let variant = Variant::populate(mode, MemoryBackend::new(), db).await?;
    let (cache, users, key) = (&variant.cache, &variant.users, &variant.pk_keys[0]);
    by_id(1).cached(cache).all(db).await?;
    tokio::time::sleep(RECENTLY_LOADED).await;
    let started = Instant::now();
    for _ in 0..iterations {
        match op {
            LoopOp::FindByPk => drop(users.find_by_pk(db, 1).await?.ok_or("no row")?),
            LoopOp::CachedAll => drop(by_id(1).cached(cache).all(db).await?),
            LoopOp::RawGet => drop(cache.backend().get(key).await?.ok_or("miss")?),
            LoopOp::RawGetBatch => return Err("raw-get-batch needs momento or redis".into()),
        }
    }
    Ok(started.elapsed())
}

async fn momento_loop(
    db: sea_orm::DatabaseConnection,
    mode: Mode,
    op: LoopOp,
    iterations: usize,
) -> BenchResult<Duration> {
    let lite = Lite::start().await?;
    let target = HitTarget::new(db, &lite.backend).await?;
    let key = &target.variant(mode).pk_keys[0];
    let started = Instant::now();
    for _ in 0..iterations {
        match op {
            LoopOp::FindByPk => target.find_by_pk(mode, 1).await?,
            LoopOp::CachedAll => target.cached_all().await?,
            LoopOp::RawGet => drop(target.raw_get(key).await?),
            LoopOp::RawGetBatch => target.raw_get_batch().await?,
        }
    }
    let took = started.elapsed();
    drop(target);
    lite.stop().await;
    Ok(took)
}

async fn redis_loop(
    db: &sea_orm::DatabaseConnection,
    mode: Mode,
    op: LoopOp,
    iterations: usize,
) -> BenchResult<Duration> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let backend = momento_seaorm_cache::RedisBackend::builder()
        .url(&url)
        .build()?;
    // A deadline of seconds: under valgrind a call can take longer than the default 200 ms,
    // and a read that faulted would be profiled instead of a hit.
    let cache = mode
        .builder(backend)
        .cache_timeout(Duration::from_secs(30))
        .build()?;
    let variant = Variant::fill(mode, cache, db).await?;
    let (cache, key) = (&variant.cache, &variant.pk_keys[0]);
    by_id(1).cached(cache).all(db).await?;
    tokio::time::sleep(RECENTLY_LOADED).await;
    let mut raw = redis::Client::open(url.as_str())?
        .get_multiplexed_async_connection()
        .await?;
    let mget = crate::redis::strict_keys(&variant, false);
    let started = Instant::now();
    for _ in 0..iterations {
        match op {
            LoopOp::FindByPk => crate::redis::hit(&variant, db).await?,
            LoopOp::CachedAll => drop(by_id(1).cached(cache).all(db).await?),
            LoopOp::RawGet => {
                let value: Option<Vec<u8>> =
                    redis::cmd("GET").arg(key).query_async(&mut raw).await?;
                drop(value.ok_or("miss")?);
            }
            LoopOp::RawGetBatch => {
                let values: Vec<Option<Vec<u8>>> =
                    redis::cmd("MGET").arg(&mget).query_async(&mut raw).await?;
                if values.iter().any(Option::is_none) {
                    return Err(format!("MGET of {mget:?} missed").into());
                }
            }
        }
    }
    Ok(started.elapsed())
}

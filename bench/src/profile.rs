//! A bare hit loop for profilers (`valgrind --tool=callgrind`, `perf record`).
//!
//! The scenarios interleave several operations and time each one, which would blur a profile.
//! This runs one operation `iterations` times and nothing else, so the profile of the loop is
//! the profile of that hit path.

use momento_seaorm_cache::{CacheQueryExt, MemoryBackend, ModelCache};
use serde::Serialize;

use crate::fixtures::{self, user, BenchResult, Lite};
use crate::hit::{by_id, HitTarget};

/// Which store the loop reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
pub enum LoopBackend {
    /// The in-process `MemoryBackend`.
    Memory,
    /// momento-lite through the official SDK.
    Momento,
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
}

/// What the loop did.
#[derive(Debug, Clone, Serialize)]
pub struct LoopReport {
    pub backend: LoopBackend,
    pub op: LoopOp,
    pub iterations: usize,
    pub mean_us: f64,
}

/// Runs `op` `iterations` times against `backend`.
pub async fn run(backend: LoopBackend, op: LoopOp, iterations: usize) -> BenchResult<LoopReport> {
    let started = std::time::Instant::now();
    match backend {
        LoopBackend::Memory => memory_loop(op, iterations).await?,
        LoopBackend::Momento => momento_loop(op, iterations).await?,
    }
    let mean_us = started.elapsed().as_secs_f64() * 1e6 / iterations.max(1) as f64;
    Ok(LoopReport {
        backend,
        op,
        iterations,
        mean_us,
    })
}

async fn memory_loop(op: LoopOp, iterations: usize) -> BenchResult<()> {
    let db = fixtures::sqlite_with_users(10).await?;
    let cache = ModelCache::builder(MemoryBackend::new()).build()?;
    let users = cache.wrap(user::Entity);
    let key = users
        .find_by_pk_with_status(&db, 1)
        .await?
        .key
        .ok_or("no key")?;
    by_id(1).cached(&cache).all(&db).await?;
    for _ in 0..iterations {
        match op {
            LoopOp::FindByPk => drop(users.find_by_pk(&db, 1).await?.ok_or("no row")?),
            LoopOp::CachedAll => drop(by_id(1).cached(&cache).all(&db).await?),
            LoopOp::RawGet => drop(cache.backend().get(key.as_str()).await?.ok_or("miss")?),
        }
    }
    Ok(())
}

async fn momento_loop(op: LoopOp, iterations: usize) -> BenchResult<()> {
    let lite = Lite::start().await?;
    let db = fixtures::sqlite_with_users(crate::hit::KEYED_USERS).await?;
    let target = HitTarget::new(db, &lite).await?;
    for _ in 0..iterations {
        match op {
            LoopOp::FindByPk => target.find_by_pk(1).await?,
            LoopOp::CachedAll => target.cached_all().await?,
            LoopOp::RawGet => drop(target.raw_get(&target.pk_key).await?),
        }
    }
    drop(target);
    lite.stop().await;
    Ok(())
}

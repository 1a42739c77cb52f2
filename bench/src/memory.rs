//! The library's own cost, with the network taken away: hits on the in-process `MemoryBackend`.
//!
//! Against Momento the round trip dominates a hit, so the library's overhead hides in its noise.
//! With moka in the same process a hit is a hash lookup, and what remains is the library: key
//! building, statement building (for `.cached()`), tracing, the boxed trait object, decoding.
//! Three operations are interleaved, rotating each round: the backend's own `get` of the key
//! (the floor), `wrap(E).find_by_pk` and `.cached().all()`. A batch mean (1,000 back-to-back
//! hits timed together) is reported too, since single timings near a microsecond carry the
//! clock's own ~20–40 ns.

use std::time::Instant;

use momento_seaorm_cache::{CacheQueryExt, MemoryBackend, ModelCache};
use serde::Serialize;

use crate::fixtures::{self, user, BenchError, BenchResult};
use crate::hit::by_id;
use crate::stats::{ratio, timed, Samples, Summary};

/// Measured and warm-up rounds; each runs the three operations once.
#[derive(Debug, Clone, Copy)]
pub struct MemoryConfig {
    pub rounds: usize,
    pub warmup: usize,
}

/// The memory scenario's figures.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryReport {
    pub rounds: usize,
    /// `cache.backend().get(key)`: moka alone.
    pub backend_get: Summary,
    pub find_by_pk: Summary,
    pub cached_all: Summary,
    /// Mean of 1,000 back-to-back `find_by_pk` hits, in microseconds.
    pub find_by_pk_batch_mean_us: f64,
    pub backend_get_batch_mean_us: f64,
    /// `find_by_pk` p50 over the backend get's p50.
    pub find_by_pk_p50_ratio: f64,
}

async fn batch_mean_us<F, Fut>(n: u32, mut op: F) -> BenchResult<f64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = BenchResult<()>>,
{
    let started = Instant::now();
    for _ in 0..n {
        op().await?;
    }
    Ok(started.elapsed().as_nanos() as f64 / f64::from(n) / 1_000.0)
}

/// Runs the scenario on in-memory SQLite and a `MemoryBackend`.
pub async fn run(config: MemoryConfig) -> BenchResult<MemoryReport> {
    let db = fixtures::sqlite_with_users(100).await?;
    let cache = ModelCache::builder(MemoryBackend::new()).build()?;
    let users = cache.wrap(user::Entity);
    let key = users
        .find_by_pk_with_status(&db, 1)
        .await?
        .key
        .ok_or("no key")?;
    by_id(1).cached(&cache).all(&db).await?;
    let (cache, users, db, key) = (&cache, &users, &db, key.as_str());
    let backend_get = move || async move {
        cache.backend().get(key).await?.ok_or("miss")?;
        Ok::<(), BenchError>(())
    };
    let find_by_pk = move || async move {
        users.find_by_pk(db, 1).await?.ok_or("no row")?;
        Ok::<(), BenchError>(())
    };
    let cached_all = move || async move {
        by_id(1).cached(cache).all(db).await?;
        Ok::<(), BenchError>(())
    };
    let mut samples: [Samples; 3] = Default::default();
    for round in 0..config.warmup + config.rounds {
        for j in 0..3 {
            let i = (round + j) % 3;
            let (result, nanos): (BenchResult<()>, u64) = match i {
                0 => timed(backend_get()).await,
                1 => timed(find_by_pk()).await,
                _ => timed(cached_all()).await,
            };
            result?;
            if round >= config.warmup {
                samples[i].push(nanos);
            }
        }
    }
    let batch_pk = batch_mean_us(1_000, find_by_pk).await?;
    let batch_get = batch_mean_us(1_000, backend_get).await?;
    let [get, pk, all] = samples.map(Samples::summary);
    Ok(MemoryReport {
        rounds: config.rounds,
        backend_get: get,
        find_by_pk: pk,
        cached_all: all,
        find_by_pk_batch_mean_us: (batch_pk * 1_000.0).round() / 1_000.0,
        backend_get_batch_mean_us: (batch_get * 1_000.0).round() / 1_000.0,
        find_by_pk_p50_ratio: ratio(pk.p50_us, get.p50_us),
    })
}

impl MemoryReport {
    /// Prints the table.
    pub fn print(&self) {
        println!("\n== memory: in-process MemoryBackend hits (SQLite untouched) ==");
        println!("{}", Summary::header());
        println!(
            "{}",
            self.backend_get.row("backend().get(key) (moka alone)")
        );
        println!("{}", self.find_by_pk.row("wrap(E).find_by_pk hit"));
        println!("{}", self.cached_all.row(".cached().all() hit"));
        println!(
            "  batch of 1,000: find_by_pk {:.3} µs/hit, backend get {:.3} µs/get; \
             find_by_pk p50 / get p50 {:.2}x",
            self.find_by_pk_batch_mean_us,
            self.backend_get_batch_mean_us,
            self.find_by_pk_p50_ratio
        );
    }
}

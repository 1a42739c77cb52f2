//! The library's own cost, with the network taken away: hits on the in-process `MemoryBackend`.
//!
//! Against Momento the round trip dominates a hit, so the library's overhead hides in its noise.
//! With moka in the same process a hit is a hash lookup, and what remains is the library: key
//! building, generations, statement building (for `.cached()`), single flight, the deadline,
//! counters, tracing, decoding. Four operations are interleaved, rotating each round: the
//! backend's own `get` of the key (the floor), `wrap(E).find_by_pk` on the default cache
//! (`Strict`: the value and two row generations, three moka gets, with `gen-all` held),
//! `find_by_pk` on a `TtlOnly` cache (one get) and `.cached().all()` (default). A batch mean (1,000 back-to-back hits timed
//! together) is reported too, since single timings near a microsecond carry the clock's own
//! ~20–40 ns.

use std::time::Instant;

use momento_seaorm_cache::{CacheQueryExt, MemoryBackend};
use serde::Serialize;

use crate::fixtures::{self, BenchError, BenchResult};
use crate::hit_target::{by_id, Mode, Variant};
use crate::stats::{ratio, timed, Samples, Summary};

/// Measured and warm-up rounds; each runs the four operations once.
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
    /// Default settings (`Strict`).
    pub find_by_pk: Summary,
    pub find_by_pk_ttl_only: Summary,
    pub cached_all: Summary,
    /// Mean of 1,000 back-to-back hits, in microseconds.
    pub find_by_pk_batch_mean_us: f64,
    pub find_by_pk_ttl_only_batch_mean_us: f64,
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
    let mean = started.elapsed().as_nanos() as f64 / f64::from(n) / 1_000.0;
    Ok((mean * 1_000.0).round() / 1_000.0)
}

/// Runs the scenario on in-memory SQLite and one `MemoryBackend` per cache.
pub async fn run(config: MemoryConfig) -> BenchResult<MemoryReport> {
    let db = fixtures::sqlite_with_users(crate::hit_target::KEYED_USERS).await?;
    let strict = Variant::populate(Mode::Default, MemoryBackend::new(), &db).await?;
    let ttl_only = Variant::populate(Mode::TtlOnly, MemoryBackend::new(), &db).await?;
    by_id(1).cached(&strict.cache).all(&db).await?;
    tokio::time::sleep(crate::hit_target::RECENTLY_LOADED).await;
    let (strict, ttl_only, db) = (&strict, &ttl_only, &db);
    let backend_get = move || async move {
        let key = strict.pk_keys[0].as_str();
        strict.cache.backend().get(key).await?.ok_or("miss")?;
        Ok::<(), BenchError>(())
    };
    let find_by_pk = move || async move {
        strict.users.find_by_pk(db, 1).await?.ok_or("no row")?;
        Ok::<(), BenchError>(())
    };
    let find_ttl_only = move || async move {
        ttl_only.users.find_by_pk(db, 1).await?.ok_or("no row")?;
        Ok::<(), BenchError>(())
    };
    let cached_all = move || async move {
        by_id(1).cached(&strict.cache).all(db).await?;
        Ok::<(), BenchError>(())
    };
    let mut samples: [Samples; 4] = Default::default();
    for round in 0..config.warmup + config.rounds {
        for j in 0..4 {
            let i = (round + j) % 4;
            let (result, nanos): (BenchResult<()>, u64) = match i {
                0 => timed(backend_get()).await,
                1 => timed(find_by_pk()).await,
                2 => timed(find_ttl_only()).await,
                _ => timed(cached_all()).await,
            };
            result?;
            if round >= config.warmup {
                samples[i].push(nanos);
            }
        }
    }
    let [get, pk, pk_ttl, all] = samples.map(Samples::summary);
    Ok(MemoryReport {
        rounds: config.rounds,
        backend_get: get,
        find_by_pk: pk,
        find_by_pk_ttl_only: pk_ttl,
        cached_all: all,
        find_by_pk_batch_mean_us: batch_mean_us(1_000, find_by_pk).await?,
        find_by_pk_ttl_only_batch_mean_us: batch_mean_us(1_000, find_ttl_only).await?,
        backend_get_batch_mean_us: batch_mean_us(1_000, backend_get).await?,
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
        println!(
            "{}",
            self.find_by_pk.row("find_by_pk hit (default: Strict)")
        );
        println!(
            "{}",
            self.find_by_pk_ttl_only.row("find_by_pk hit (TtlOnly)")
        );
        println!("{}", self.cached_all.row(".cached().all() hit (default)"));
        println!(
            "  batch of 1,000: find_by_pk {:.3} µs/hit (TtlOnly {:.3}), backend get {:.3} µs/get; \
             find_by_pk p50 / get p50 {:.2}x",
            self.find_by_pk_batch_mean_us,
            self.find_by_pk_ttl_only_batch_mean_us,
            self.backend_get_batch_mean_us,
            self.find_by_pk_p50_ratio
        );
    }
}

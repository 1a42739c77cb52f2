//! What a miss costs: `get` (miss) + query + encode + `set`, against the query alone.
//!
//! Read-aside caching makes every first read slower; this says by how much. Each iteration
//! reads a different primary key, so every cached read is a real miss (nothing is ever read
//! twice), and the plain SeaORM `find_by_id(pk).one(&db)` of the same key runs next to it, the
//! order rotating each round. Two caches are measured: the default one, which stores before
//! the read returns, and one with `background_writes(true)`, whose read returns before its
//! `set` lands (its own range of keys). A raw SDK `get` of a key the server holds runs in the
//! same rounds, so the overhead is also stated in raw gets.

use momento_seaorm_cache::CacheStatus;
use sea_orm::EntityTrait;
use serde::Serialize;

use crate::fixtures::{self, user, BenchResult};
use crate::standalone::Server;
use crate::stats::{ratio, timed, Samples, Summary};
use momento_seaorm_cache::ModelCache;

/// Number of measured and warm-up iterations (each uses a fresh primary key).
#[derive(Debug, Clone, Copy)]
pub struct MissConfig {
    pub iterations: usize,
    pub warmup: usize,
}

/// The miss scenario's figures.
#[derive(Debug, Clone, Serialize)]
pub struct MissReport {
    pub iterations: usize,
    /// `user::Entity::find_by_id(pk).one(&db)` on in-memory SQLite.
    pub query_only: Summary,
    /// `cache.wrap(user::Entity).find_by_pk(&db, pk)`, a miss on momento-lite (in this
    /// process, or its own).
    pub miss: Summary,
    /// Miss p50 minus query p50.
    pub overhead_p50_us: f64,
    pub ratio_p50: f64,
    pub ratio_p99: f64,
    /// A raw SDK `get` of a key the server holds, in the same rounds.
    pub raw_get: Summary,
    /// `overhead_p50_us` over the raw get's p50.
    pub overhead_raw_gets: f64,
    /// The same miss on a cache with `background_writes(true)`.
    pub miss_background: Summary,
    /// Background-writes miss p50 minus query p50.
    pub background_overhead_p50_us: f64,
    /// `background_overhead_p50_us` over the raw get's p50.
    pub background_overhead_raw_gets: f64,
}

/// Runs the scenario on in-memory SQLite and momento-lite (as its own process when
/// `standalone`).
pub async fn run(config: MissConfig, standalone: bool) -> BenchResult<MissReport> {
    let total = config.warmup + config.iterations;
    let server = Server::start(standalone).await?;
    let backend = server.backend().clone();
    let (client, cache_name) = (backend.client().clone(), backend.cache_name().to_owned());
    // Keys 1..=total for the default cache, total+1..=2*total for the background one.
    let db = fixtures::sqlite_with_users(i32::try_from(2 * total)?).await?;
    let inline = ModelCache::builder(backend.clone()).build()?;
    let background = ModelCache::builder(backend.clone())
        .key_prefix("model-cache-bg")
        .background_writes(true)
        .build()?;
    let raw_key = "miss-bench-raw";
    client
        .set(cache_name.as_str(), raw_key, vec![7u8; 200])
        .await?;
    let mut samples: [Samples; 4] = std::array::from_fn(|_| Samples::with_capacity(total));
    for round in 0..total {
        let pk = i32::try_from(round + 1)?;
        let mut took = [0u64; 4];
        for step in 0..4 {
            // Rotate which measurement goes first.
            let which = (step + round) % 4;
            took[which] = match which {
                0 => {
                    let (found, t) = timed(user::Entity::find_by_id(pk).one(&db)).await;
                    found?.ok_or("no row")?;
                    t
                }
                1 => timed_miss(&inline, &db, pk).await?,
                2 => timed_miss(&background, &db, pk + i32::try_from(total)?).await?,
                _ => {
                    let (got, t) = timed(client.get(cache_name.as_str(), raw_key)).await;
                    got?;
                    t
                }
            };
        }
        if round >= config.warmup {
            for (samples, took) in samples.iter_mut().zip(took) {
                samples.push(took);
            }
        }
    }
    server.stop().await;
    let [query, miss, miss_background, raw_get] = samples.map(|s| s.summary());
    let over = |m: &Summary| ((m.p50_us - query.p50_us) * 100.0).round() / 100.0;
    let (overhead, background_overhead) = (over(&miss), over(&miss_background));
    Ok(MissReport {
        iterations: config.iterations,
        query_only: query,
        miss,
        overhead_p50_us: overhead,
        ratio_p50: ratio(miss.p50_us, query.p50_us),
        ratio_p99: ratio(miss.p99_us, query.p99_us),
        raw_get,
        overhead_raw_gets: ratio(overhead, raw_get.p50_us),
        miss_background,
        background_overhead_p50_us: background_overhead,
        background_overhead_raw_gets: ratio(background_overhead, raw_get.p50_us),
    })
}

/// Times one cached read of `pk`, which must be a miss.
async fn timed_miss(
    cache: &ModelCache,
    db: &sea_orm::DatabaseConnection,
    pk: i32,
) -> BenchResult<u64> {
    let (read, took) = timed(cache.wrap(user::Entity).find_by_pk_with_status(db, pk)).await;
    if read?.status != CacheStatus::Miss {
        return Err(format!("pk {pk} was not a miss").into());
    }
    Ok(took)
}

impl MissReport {
    /// Prints the table.
    pub fn print(&self) {
        println!("\n== miss: find_by_pk miss (get + query + encode + set) vs the query alone ==");
        println!("{}", Summary::header());
        println!("{}", self.query_only.row("find_by_id(pk).one() (SQLite)"));
        println!("{}", self.miss.row("find_by_pk miss (momento-lite)"));
        println!(
            "{}",
            self.miss_background.row("  same, background_writes(true)")
        );
        println!("{}", self.raw_get.row("raw SDK get (a held key)"));
        println!(
            "  miss / query: p50 {:.3}x, p99 {:.3}x; a miss adds {:.1} µs at p50 ({:.2} raw gets)",
            self.ratio_p50, self.ratio_p99, self.overhead_p50_us, self.overhead_raw_gets
        );
        println!(
            "  with background writes a miss adds {:.1} µs at p50 ({:.2} raw gets)",
            self.background_overhead_p50_us, self.background_overhead_raw_gets
        );
    }
}

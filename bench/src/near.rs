//! The near cache: what a hit from process memory costs, how much of a skewed workload still
//! reaches the backend, hit throughput against the raw SDK, and how long another process keeps
//! serving a value after a write — with every message delivered, and with 10% of the topic's
//! messages dropped and its streams broken.
//!
//! Everything runs on in-process momento-lite (cache and topics) through the official SDK and
//! the topic protocol, and in-memory SQLite. Invalidation delay is how long after the write
//! call returned in one cache the other still served the old row: the start of its last read
//! that returned it (the reader polls continuously).

use std::sync::Arc;
use std::time::{Duration, Instant};

use momento_seaorm_cache::{CacheStatus, CachedConnection, ModelCache, NearCache, NearTopic};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::Serialize;

use crate::fixtures::{self, user, BenchResult, Lite};
use crate::stats::{ratio, timed, Samples, Summary};

/// How much of each part to run.
#[derive(Debug, Clone, Copy)]
pub struct NearConfig {
    pub hit_rounds: usize,
    pub zipf_reads: usize,
    pub throughput_secs: f64,
    pub writes: usize,
    pub max_staleness: Duration,
}

/// The near scenario's figures.
#[derive(Debug, Clone, Serialize)]
pub struct NearReport {
    pub near_hit: Summary,
    pub remote_hit: Summary,
    /// Mean of 10,000 back-to-back near hits, in microseconds.
    pub near_hit_batch_mean_us: f64,
    /// Zipfian (s = 1.0) reads over 1,000 keys: the share that reached the backend.
    pub zipf_backend_share: f64,
    pub zipf_reads: usize,
    pub throughput_64_near_ops_per_sec: f64,
    pub throughput_64_raw_ops_per_sec: f64,
    pub throughput_64_ratio: f64,
    pub max_staleness_ms: f64,
    pub invalidation: Summary,
    pub invalidation_lossy: Summary,
    pub lossy_messages_dropped: u64,
    pub lossy_stream_breaks: u64,
}

const USERS: i32 = 1_000;

fn near_cache(lite: &Lite, staleness: Duration) -> BenchResult<ModelCache> {
    let topic = NearTopic::new(lite.server.endpoint(), "bench", lite.cache_name());
    let near = NearCache::new(64 << 20)
        .max_staleness(staleness)
        .topic(topic);
    Ok(ModelCache::builder(lite.backend.clone())
        .near_cache(near)
        .build()?)
}

/// How long the scenario waits for a subscription or a near hit before it gives up (a run that
/// hangs measures nothing).
const PATIENCE: Duration = Duration::from_secs(20);

async fn wait_healthy(cache: &ModelCache) -> BenchResult<()> {
    let wait = async {
        while !cache.near_stats().is_some_and(|s| s.healthy) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    tokio::time::timeout(PATIENCE, wait).await.map_err(|_| {
        format!("the near cache's subscription was not healthy within {PATIENCE:?}").into()
    })
}

/// Runs the scenario.
pub async fn run(config: NearConfig) -> BenchResult<NearReport> {
    let lite = Lite::start().await?;
    let db = fixtures::sqlite_with_users(USERS).await?;
    let near = near_cache(&lite, config.max_staleness)?;
    let remote = lite.model_cache()?;
    wait_healthy(&near).await?;
    let (near_hit, remote_hit, batch) = hit_latency(&near, &remote, &db, config.hit_rounds).await?;
    let zipf_backend_share = zipf_share(&lite, &db, config).await?;
    let (near_ops, raw_ops) = throughput(&near, &lite, &db, config.throughput_secs).await?;
    let invalidation = invalidation_delays(&lite, &db, config, false).await?;
    let before = lite.server.faults().topic_counts();
    let invalidation_lossy = invalidation_delays(&lite, &db, config, true).await?;
    let after = lite.server.faults().topic_counts();
    lite.stop().await;
    Ok(NearReport {
        near_hit,
        remote_hit,
        near_hit_batch_mean_us: batch,
        zipf_backend_share,
        zipf_reads: config.zipf_reads,
        throughput_64_near_ops_per_sec: near_ops.round(),
        throughput_64_raw_ops_per_sec: raw_ops.round(),
        throughput_64_ratio: ratio(near_ops, raw_ops),
        max_staleness_ms: config.max_staleness.as_secs_f64() * 1e3,
        invalidation,
        invalidation_lossy,
        lossy_messages_dropped: after.dropped - before.dropped,
        lossy_stream_breaks: after.breaks - before.breaks,
    })
}

/// Near hits against remote hits of the same row, interleaved.
async fn hit_latency(
    near: &ModelCache,
    remote: &ModelCache,
    db: &DatabaseConnection,
    rounds: usize,
) -> BenchResult<(Summary, Summary, f64)> {
    let (near_users, remote_users) = (near.wrap(user::Entity), remote.wrap(user::Entity));
    for _ in 0..3 {
        near_users.find_by_pk(db, 1).await?;
        remote_users.find_by_pk(db, 2).await?;
    }
    let (mut near_samples, mut remote_samples) = (Samples::default(), Samples::default());
    for round in 0..rounds {
        let (read, nanos) = timed(near_users.find_by_pk_with_status(db, 1)).await;
        if read?.status == CacheStatus::NearHit {
            near_samples.push(nanos);
        }
        if round % 20 == 0 {
            let (read, nanos) = timed(remote_users.find_by_pk(db, 2)).await;
            read?;
            remote_samples.push(nanos);
        }
    }
    let started = Instant::now();
    for _ in 0..10_000 {
        near_users.find_by_pk(db, 1).await?;
    }
    let batch = started.elapsed().as_nanos() as f64 / 10_000.0 / 1_000.0;
    Ok((
        near_samples.summary(),
        remote_samples.summary(),
        (batch * 1e3).round() / 1e3,
    ))
}

/// A tiny deterministic generator (xorshift64*), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Zipfian reads (s = 1.0) over every user on a fresh near cache: the share of reads that
/// were not near hits (remote hits and misses).
async fn zipf_share(lite: &Lite, db: &DatabaseConnection, config: NearConfig) -> BenchResult<f64> {
    let cache = near_cache(lite, config.max_staleness)?;
    wait_healthy(&cache).await?;
    let weights: Vec<f64> = (1..=USERS).map(|k| 1.0 / f64::from(k)).collect();
    let total: f64 = weights.iter().sum();
    let mut cdf = Vec::with_capacity(weights.len());
    let mut acc = 0.0;
    for w in weights {
        acc += w / total;
        cdf.push(acc);
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let users = cache.wrap(user::Entity);
    for _ in 0..config.zipf_reads {
        let at = cdf.partition_point(|&p| p < rng.next_f64());
        users.find_by_pk(db, at as i32 + 1).await?;
    }
    let stats = cache.stats();
    let reads = stats.near_hits + stats.hits + stats.misses + stats.stale_serves;
    Ok(ratio((reads - stats.near_hits) as f64, reads as f64))
}

/// 64 tasks reading distinct rows through the near cache, against 64 tasks doing raw SDK gets
/// of the same keys; each side half of `secs`, in alternating quarters.
async fn throughput(
    near: &ModelCache,
    lite: &Lite,
    db: &DatabaseConnection,
    secs: f64,
) -> BenchResult<(f64, f64)> {
    let users = near.wrap(user::Entity);
    let mut keys = Vec::new();
    for id in 1..=64 {
        users.find_by_pk(db, id).await?;
        let read = users.find_by_pk_with_status(db, id).await?;
        keys.push(read.key.ok_or("no key")?.as_str().to_owned());
    }
    let (mut ops, mut time) = ([0u64; 2], [Duration::ZERO; 2]);
    for quarter in 0..4 {
        let side = quarter % 2;
        let deadline = Instant::now() + Duration::from_secs_f64(secs / 4.0);
        let started = Instant::now();
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let (cache, db) = (near.clone(), db.clone());
                let (client, name, key) = (
                    lite.client.clone(),
                    lite.cache_name().to_owned(),
                    keys[i].clone(),
                );
                tokio::spawn(async move {
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        if side == 0 {
                            cache
                                .wrap(user::Entity)
                                .find_by_pk(&db, i as i32 + 1)
                                .await?;
                        } else {
                            client.get(name.as_str(), key.as_str()).await?;
                        }
                        n += 1;
                    }
                    Ok::<u64, crate::fixtures::BenchError>(n)
                })
            })
            .collect();
        for task in tasks {
            ops[side] += task.await??;
        }
        time[side] += started.elapsed();
    }
    let rate = |s: usize| ops[s] as f64 / time[s].as_secs_f64();
    Ok((rate(0), rate(1)))
}

/// Write through one cache, then poll the other until it reads the new row: the delay from the
/// write's return, per write. `lossy`: 10% of messages dropped, streams broken every 25 writes.
async fn invalidation_delays(
    lite: &Lite,
    db: &DatabaseConnection,
    config: NearConfig,
    lossy: bool,
) -> BenchResult<Summary> {
    let (writer, reader) = (
        near_cache(lite, config.max_staleness)?,
        near_cache(lite, config.max_staleness)?,
    );
    wait_healthy(&writer).await?;
    wait_healthy(&reader).await?;
    let faults = lite.server.faults();
    faults.drop_topic_messages(if lossy { 0.1 } else { 0.0 });
    let conn = CachedConnection::new(db.clone(), &writer);
    let users = Arc::new(reader.wrap(user::Entity));
    let mut samples = Samples::default();
    for n in 0..config.writes {
        // Hold the row near in the reader.
        let held = Instant::now();
        while users.find_by_pk_with_status(db, 7).await?.status != CacheStatus::NearHit {
            if held.elapsed() > PATIENCE {
                return Err(format!("row 7 was not a near hit within {PATIENCE:?}").into());
            }
            tokio::task::yield_now().await;
        }
        if lossy && n % 25 == 24 {
            faults.break_subscriptions();
        }
        let name = format!("{}-{n}", if lossy { "lossy" } else { "clean" });
        let sql = format!("UPDATE bench_users SET username = '{name}' WHERE id = 7");
        conn.execute_unprepared(&sql).await?;
        let returned = Instant::now();
        // The delay is how long after the write the other cache still served the old row:
        // the start of its last read that did (0 when the first read already saw the new one).
        // Timing the first new read instead would add however long this task waited for a core.
        let mut stale_for = Duration::ZERO;
        loop {
            let began = Instant::now();
            let row = users.find_by_pk(db, 7).await?.ok_or("no row")?;
            if row.username == name {
                break;
            }
            stale_for = began.duration_since(returned);
            if stale_for > PATIENCE {
                return Err(format!("the old row was still served after {PATIENCE:?}").into());
            }
            tokio::task::yield_now().await;
        }
        samples.push(stale_for.as_nanos() as u64);
    }
    faults.drop_topic_messages(0.0);
    Ok(samples.summary())
}

impl NearReport {
    /// Prints the tables.
    pub fn print(&self) {
        println!("\n== near: near cache on momento-lite (topics through its Pubsub protocol) ==");
        println!("{}", Summary::header());
        println!("{}", self.near_hit.row("find_by_pk near hit"));
        println!("{}", self.remote_hit.row("find_by_pk remote hit (no near)"));
        println!(
            "  batch of 10,000 near hits: {:.3} µs/hit",
            self.near_hit_batch_mean_us
        );
        println!(
            "  zipfian reads over {USERS} rows: {:.1}% reached the backend ({} reads)",
            self.zipf_backend_share * 100.0,
            self.zipf_reads
        );
        println!(
            "  64 tasks: near {:.0} ops/s, raw SDK get {:.0} ops/s = {:.1}x",
            self.throughput_64_near_ops_per_sec,
            self.throughput_64_raw_ops_per_sec,
            self.throughput_64_ratio
        );
        println!("  invalidation delay (write returned → last read of the old row in the other cache, ms; max_staleness {} ms):", self.max_staleness_ms);
        let ms = |s: &Summary| {
            format!(
                "p50 {:.2}, p99 {:.2}, max {:.2}",
                s.p50_us / 1e3,
                s.p99_us / 1e3,
                s.max_us / 1e3
            )
        };
        println!("    every message delivered: {}", ms(&self.invalidation));
        println!(
            "    10% dropped, {} stream breaks, {} messages dropped: {}",
            self.lossy_stream_breaks,
            self.lossy_messages_dropped,
            ms(&self.invalidation_lossy)
        );
    }
}

//! Hits on Redis against the raw client: `RedisBackend` on one node (the machine's Redis,
//! `REDIS_URL`, default `redis://127.0.0.1:6379`) and on a three-primary cluster of
//! `redis-server` processes this scenario starts on loopback ports.
//!
//! The yardstick is the `redis` crate's own `GET` of the `find_by_pk` key on a multiplexed
//! connection (a cluster connection for the cluster), returning the same bytes; a `Strict` hit
//! is also compared with the raw `MGET` of the keys it reads. Every operation runs once per
//! round, interleaved and rotated, as in `bench -- hit`. Throughput: 64 tasks reading distinct
//! keys, raw and cached in alternating slices.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use momento_seaorm_cache::{RedisBackend, SerdeFormat};
use serde::Serialize;

use momento_seaorm_cache::CacheStatus;
use sea_orm::DatabaseConnection;

use crate::fixtures::BenchResult;
use crate::hit_target::{Mode, Variant, KEYED_USERS};
use crate::stats::{ratio, timed, Samples, Summary};

/// The cache's default deadline, around a raw `GET` to price the deadline's timer.
const DEADLINE: std::time::Duration = momento_seaorm_cache::DEFAULT_CACHE_TIMEOUT;

/// Rounds, warm-up rounds and seconds per throughput side.
#[derive(Debug, Clone, Copy)]
pub struct RedisConfig {
    pub rounds: usize,
    pub warmup: usize,
    pub throughput_secs: f64,
    /// How the caches encode values (`--redis-serde`; JSON is the library's default).
    pub serde_format: SerdeFormat,
}

/// One deployment's figures.
#[derive(Debug, Clone, Serialize)]
pub struct RedisSide {
    pub raw_get: Summary,
    pub raw_mget_strict_keys: Summary,
    pub find_by_pk: Summary,
    pub raw_get_ttl_only_key: Summary,
    pub find_by_pk_ttl_only: Summary,
    /// `RedisBackend::get` of the TtlOnly key alone, outside any cache: the adapter's cost.
    pub adapter_get_ttl_only_key: Summary,
    /// `adapter_get_ttl_only_key` p50 / `raw_get_ttl_only_key` p50.
    pub adapter_get_p50_ratio: f64,
    /// The raw `GET` of the TtlOnly key inside `tokio::time::timeout` of the cache's default
    /// deadline (200 ms): what arming and dropping the deadline's timer costs a call.
    pub raw_get_under_deadline: Summary,
    /// `raw_get_under_deadline` p50 / `raw_get_ttl_only_key` p50.
    pub deadline_p50_ratio: f64,
    pub hit_p50_ratio: f64,
    pub hit_vs_mget_p50_ratio: f64,
    pub ttl_only_p50_ratio: f64,
    pub throughput_raw_ops_per_sec: f64,
    pub throughput_cached_ops_per_sec: f64,
    pub throughput_64_ratio: f64,
}

/// The scenario's figures; a side is `None` when it could not run (the reason is printed).
#[derive(Debug, Clone, Serialize)]
pub struct RedisReport {
    pub single: Option<RedisSide>,
    pub cluster: Option<RedisSide>,
    pub skipped: Vec<String>,
}

impl RedisReport {
    pub fn print(&self) {
        println!("\nredis: hits through RedisBackend against the redis crate's own GET");
        println!("{}", Summary::header());
        for (name, side) in [("single", &self.single), ("cluster", &self.cluster)] {
            let Some(s) = side else { continue };
            println!("{}", s.raw_get.row(&format!("{name}: raw GET")));
            println!(
                "{}",
                s.find_by_pk.row(&format!("{name}: find_by_pk (Strict)"))
            );
            println!(
                "{}",
                s.raw_mget_strict_keys
                    .row(&format!("{name}: raw MGET of its keys"))
            );
            println!(
                "{}",
                s.raw_get_ttl_only_key
                    .row(&format!("{name}: raw GET (TtlOnly key)"))
            );
            println!(
                "{}",
                s.find_by_pk_ttl_only
                    .row(&format!("{name}: find_by_pk (TtlOnly)"))
            );
            println!(
                "{}",
                s.adapter_get_ttl_only_key
                    .row(&format!("{name}: adapter get (TtlOnly)"))
            );
            println!(
                "{}",
                s.raw_get_under_deadline.row(&format!(
                    "{name}: raw GET in a {} ms timeout",
                    DEADLINE.as_millis()
                ))
            );
            println!(
                "{name}: hit/GET {:.3}, hit/MGET {:.3}, TtlOnly/GET {:.3}, adapter get/GET {:.3}, GET in a timeout/GET {:.3}; 64 tasks {:.0} vs {:.0} ops/s = {:.3}",
                s.hit_p50_ratio,
                s.hit_vs_mget_p50_ratio,
                s.ttl_only_p50_ratio,
                s.adapter_get_p50_ratio,
                s.deadline_p50_ratio,
                s.throughput_cached_ops_per_sec,
                s.throughput_raw_ops_per_sec,
                s.throughput_64_ratio
            );
        }
        for reason in &self.skipped {
            println!("skipped: {reason}");
        }
    }
}

/// A raw connection of the `redis` crate: one node or the cluster.
#[derive(Clone)]
enum Raw {
    Single(redis::aio::MultiplexedConnection),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl Raw {
    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> redis::RedisResult<T> {
        match self.clone() {
            Raw::Single(mut c) => cmd.query_async(&mut c).await,
            Raw::Cluster(mut c) => cmd.query_async(&mut c).await,
        }
    }
}

/// Three `redis-server` processes in cluster mode, killed on drop.
struct OwnCluster {
    children: Vec<Child>,
    urls: Vec<String>,
    dir: std::path::PathBuf,
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            child.kill().ok();
            child.wait().ok();
        }
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

impl OwnCluster {
    async fn start() -> Result<OwnCluster, String> {
        let dir = std::env::temp_dir().join(format!("bench-redis-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let mut cluster = OwnCluster {
            children: Vec::new(),
            urls: Vec::new(),
            dir,
        };
        let mut addresses = Vec::new();
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| e.to_string())?
                .port();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args([
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--cluster-enabled",
                    "yes",
                ])
                .arg("--dir")
                .arg(&cluster.dir)
                .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("redis-server: {e}"))?;
            cluster.children.push(child);
            addresses.push(format!("127.0.0.1:{port}"));
            cluster.urls.push(format!("redis://127.0.0.1:{port}"));
        }
        for url in &cluster.urls {
            wait_ping(url).await?;
        }
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .map_err(|e| format!("redis-cli: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        for url in &cluster.urls {
            let started = Instant::now();
            loop {
                let client = redis::Client::open(url.as_str()).map_err(|e| e.to_string())?;
                let mut c = client
                    .get_multiplexed_async_connection()
                    .await
                    .map_err(|e| e.to_string())?;
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query_async(&mut c)
                    .await
                    .map_err(|e| e.to_string())?;
                if info.contains("cluster_state:ok") {
                    break;
                }
                if started.elapsed() > Duration::from_secs(20) {
                    return Err("the cluster did not become ok".into());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(cluster)
    }
}

/// Waits up to 10 s for `url` to answer PING.
pub(crate) async fn wait_ping(url: &str) -> Result<(), String> {
    let started = Instant::now();
    loop {
        let answered = async {
            let client = redis::Client::open(url)?;
            let mut c = client.get_multiplexed_async_connection().await?;
            redis::cmd("PING").query_async::<String>(&mut c).await
        };
        match tokio::time::timeout(Duration::from_secs(2), answered).await {
            Ok(Ok(_)) => return Ok(()),
            _ if started.elapsed() > Duration::from_secs(10) => {
                return Err(format!("{url} does not answer PING"))
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Runs the scenario on one node and on a cluster.
pub async fn run(config: RedisConfig) -> BenchResult<RedisReport> {
    let mut skipped = Vec::new();
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let single = match wait_ping(&url).await {
        Ok(()) => {
            let backend = || Ok(RedisBackend::builder().url(&url).build()?);
            let client = redis::Client::open(url.as_str())?;
            let raw = Raw::Single(client.get_multiplexed_async_connection().await?);
            Some(side(config, backend, raw).await?)
        }
        Err(e) => {
            skipped.push(format!("single node: {e} (set REDIS_URL)"));
            None
        }
    };
    let cluster = match OwnCluster::start().await {
        Ok(cluster) => {
            let urls = cluster.urls.clone();
            let backend = || Ok(RedisBackend::builder().cluster(urls.clone()).build()?);
            let client = redis::cluster::ClusterClient::new(cluster.urls.clone())?;
            let raw = Raw::Cluster(client.get_async_connection().await?);
            let figures = side(config, backend, raw).await?;
            drop(cluster);
            Some(figures)
        }
        Err(e) => {
            skipped.push(format!(
                "cluster: {e} (install redis-server and redis-tools)"
            ));
            None
        }
    };
    Ok(RedisReport {
        single,
        cluster,
        skipped,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    RawGet,
    FindByPk,
    RawMget,
    RawGetTtl,
    FindByPkTtl,
    AdapterGet,
    RawGetDeadline,
}

const OPS: [Op; 7] = [
    Op::RawGet,
    Op::FindByPk,
    Op::RawMget,
    Op::RawGetTtl,
    Op::FindByPkTtl,
    Op::AdapterGet,
    Op::RawGetDeadline,
];

/// One deployment: `backend` makes a `RedisBackend` on it (one per mode, as processes would).
async fn side(
    config: RedisConfig,
    backend: impl Fn() -> BenchResult<RedisBackend>,
    raw: Raw,
) -> BenchResult<RedisSide> {
    let db = crate::fixtures::sqlite_with_users(KEYED_USERS).await?;
    // Each run starts from an empty store: the machine's Redis may hold an earlier run's keys.
    redis_flush(&raw).await?;
    let cache = |mode: Mode| {
        let builder = mode.builder(backend()?);
        BenchResult::Ok(builder.serde_format(config.serde_format).build()?)
    };
    let strict = Arc::new(Variant::fill(Mode::Default, cache(Mode::Default)?, &db).await?);
    let ttl_only = Variant::fill(Mode::TtlOnly, cache(Mode::TtlOnly)?, &db).await?;
    let mget = strict_keys(&strict, backend()?.is_cluster());
    let found: Vec<Option<Vec<u8>>> = raw.query(redis::cmd("MGET").arg(&mget)).await?;
    if found.iter().any(Option::is_none) {
        return Err(format!("a Strict hit's keys are not all stored: {mget:?}").into());
    }
    let mut samples: Vec<Samples> = OPS
        .iter()
        .map(|_| Samples::with_capacity(config.rounds))
        .collect();
    for round in 0..config.warmup + config.rounds {
        for i in 0..OPS.len() {
            let op = OPS[(i + round) % OPS.len()];
            let (result, nanos) = timed(async {
                match op {
                    Op::RawGet => raw_get(&raw, &strict.pk_keys[0]).await,
                    Op::FindByPk => hit(&strict, &db).await,
                    Op::RawMget => raw
                        .query::<Vec<Option<Vec<u8>>>>(redis::cmd("MGET").arg(&mget))
                        .await
                        .map(drop)
                        .map_err(Into::into),
                    Op::RawGetTtl => raw_get(&raw, &ttl_only.pk_keys[0]).await,
                    Op::FindByPkTtl => hit(&ttl_only, &db).await,
                    Op::AdapterGet => adapter_get(&ttl_only).await,
                    Op::RawGetDeadline => {
                        tokio::time::timeout(DEADLINE, raw_get(&raw, &ttl_only.pk_keys[0])).await?
                    }
                }
            })
            .await;
            result?;
            if round >= config.warmup {
                samples[OPS.iter().position(|&o| o == op).unwrap_or(0)].push(nanos);
            }
        }
    }
    let mut summaries = samples.into_iter().map(Samples::summary);
    let mut next = || summaries.next().expect("one summary per op");
    let (raw_get_s, find_by_pk, raw_mget, raw_ttl, find_ttl, adapter, deadline) =
        (next(), next(), next(), next(), next(), next(), next());
    let (raw_ops, cached_ops) = throughput(config, &raw, &strict, &db).await?;
    Ok(RedisSide {
        hit_p50_ratio: ratio(find_by_pk.p50_us, raw_get_s.p50_us),
        hit_vs_mget_p50_ratio: ratio(find_by_pk.p50_us, raw_mget.p50_us),
        ttl_only_p50_ratio: ratio(find_ttl.p50_us, raw_ttl.p50_us),
        adapter_get_p50_ratio: ratio(adapter.p50_us, raw_ttl.p50_us),
        deadline_p50_ratio: ratio(deadline.p50_us, raw_ttl.p50_us),
        raw_get_under_deadline: deadline,
        throughput_raw_ops_per_sec: raw_ops.round(),
        throughput_cached_ops_per_sec: cached_ops.round(),
        throughput_64_ratio: ratio(cached_ops, raw_ops),
        raw_get: raw_get_s,
        raw_mget_strict_keys: raw_mget,
        find_by_pk,
        raw_get_ttl_only_key: raw_ttl,
        find_by_pk_ttl_only: find_ttl,
        adapter_get_ttl_only_key: adapter,
    })
}

async fn redis_flush(raw: &Raw) -> BenchResult<()> {
    // FLUSHALL goes to every primary of a cluster; on one node it empties its databases.
    raw.query::<()>(&redis::cmd("FLUSHALL")).await?;
    Ok(())
}

async fn raw_get(raw: &Raw, key: &str) -> BenchResult<()> {
    let value: Option<Vec<u8>> = raw.query(redis::cmd("GET").arg(key)).await?;
    value
        .map(drop)
        .ok_or_else(|| format!("raw GET of {key} missed").into())
}

/// The backend's own get of the variant's user-1 key (`ModelCache::backend`: the
/// `RedisBackend` itself, without the deadline, breaker or any cache layer).
async fn adapter_get(variant: &Variant) -> BenchResult<()> {
    let key = &variant.pk_keys[0];
    match variant.cache.backend().get(key).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(format!("RedisBackend::get of {key} missed").into()),
        Err(fault) => Err(fault.to_string().into()),
    }
}

/// The keys a `Strict` hit of user 1 reads, named as the library names them: the value's, then
/// the table's and the row's generations. On a cluster they carry their table as a hash tag
/// (`RedisBackend::hash_tags`).
pub(crate) fn strict_keys(strict: &Variant, cluster: bool) -> Vec<String> {
    let prefix = strict.mode.prefix();
    let table = match cluster {
        true => "{bench_users}",
        false => "bench_users",
    };
    vec![
        strict.pk_keys[0].clone(),
        format!("{prefix}:gen:{table}#*"),
        format!("{prefix}:gen:{table}#id=1"),
    ]
}

/// A `find_by_pk` of user 1 that must be a hit.
pub(crate) async fn hit(variant: &Variant, db: &DatabaseConnection) -> BenchResult<()> {
    let read = variant.users.find_by_pk_with_status(db, 1).await?;
    match read.status {
        CacheStatus::Hit => Ok(()),
        status => Err(format!("expected a hit, got {status:?}").into()),
    }
}

/// 64 tasks reading distinct keys (users 1..=64), raw `GET`s and cached hits in alternating
/// slices of a quarter of `throughput_secs` each; operations per second of each side.
async fn throughput(
    config: RedisConfig,
    raw: &Raw,
    strict: &Arc<Variant>,
    db: &DatabaseConnection,
) -> BenchResult<(f64, f64)> {
    let slice = Duration::from_secs_f64(config.throughput_secs / 4.0);
    let (mut ops, mut time) = ([0u64; 2], [Duration::ZERO; 2]);
    for _ in 0..4 {
        for (side, cached) in [(0, false), (1, true)] {
            let stop = Arc::new(AtomicBool::new(false));
            let done = Arc::new(AtomicU64::new(0));
            let mut tasks = Vec::new();
            let started = Instant::now();
            for task in 0..TASKS {
                let pk = 1 + (task as i32) % KEYED_USERS;
                let key = strict.pk_keys[(pk - 1) as usize].clone();
                let (stop, done, raw, strict, db) = (
                    stop.clone(),
                    done.clone(),
                    raw.clone(),
                    strict.clone(),
                    db.clone(),
                );
                tasks.push(tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let result = match cached {
                            true => strict
                                .users
                                .find_by_pk(&db, pk)
                                .await
                                .map(drop)
                                .map_err(|e| e.to_string()),
                            false => raw_get(&raw, &key).await.map_err(|e| e.to_string()),
                        };
                        result?;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok::<(), String>(())
                }));
            }
            tokio::time::sleep(slice).await;
            stop.store(true, Ordering::Relaxed);
            for task in tasks {
                task.await??;
            }
            time[side] += started.elapsed();
            ops[side] += done.load(Ordering::Relaxed);
        }
    }
    Ok((
        ops[0] as f64 / time[0].as_secs_f64(),
        ops[1] as f64 / time[1].as_secs_f64(),
    ))
}

/// Concurrent readers in the throughput run.
const TASKS: usize = 64;

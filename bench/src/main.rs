//! The benchmark program's command line: picks the scenarios, runs them on a two-worker tokio
//! runtime, prints each scenario's table and the targets, and writes one JSON object.
//!
//! ```text
//! cargo run --release -p bench -- all --json /tmp/bench.json
//! cargo run --release -p bench -- hit
//! cargo run --release -p bench -- hit-loop --loop-backend memory --iterations 200000
//! cargo build --release -p service-example -p momento-seaorm-invalidator && \
//!   cargo run --release -p bench -- service --json /tmp/service.json
//! ```

use std::path::PathBuf;
use std::time::Duration;

use bench::fixtures::BenchResult;
use bench::hit_target::Mode;
use bench::{
    cdc, codec, expensive, hit, memory, miss, mixed, near, offload, plot, profile, redis, service,
    sweep, targets, throughput,
};
use clap::{Parser, ValueEnum};
use serde_json::{json, Map, Value};

/// Benchmarks of momento-seaorm-cache against the raw Momento SDK and the database.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// What to run.
    #[arg(value_enum)]
    scenario: Scenario,
    /// Also write the figures as one JSON object to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// A tenth of the rounds: a smoke run, not a measurement.
    #[arg(long)]
    quick: bool,
    /// PostgreSQL for the expensive, cdc and mixed scenarios (skipped with a note if
    /// unreachable).
    #[arg(
        long,
        env = "DATABASE_URL_POSTGRES",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    postgres_url: String,
    /// Skip PostgreSQL.
    #[arg(long)]
    no_postgres: bool,
    /// MariaDB for the cdc and mixed scenarios (skipped with a note if unreachable or not set up).
    #[arg(
        long,
        env = "DATABASE_URL_MYSQL",
        default_value = "mysql://root@127.0.0.1:3306/test"
    )]
    mysql_url: String,
    /// Skip MariaDB.
    #[arg(long)]
    no_mysql: bool,
    /// Orders in the expensive query's table.
    #[arg(long, default_value_t = 100_000)]
    orders: usize,
    /// Seconds per side (raw and cached) at each throughput concurrency level.
    #[arg(long, default_value_t = 2.0)]
    throughput_secs: f64,
    /// Install a tracing subscriber (fmt, level warn), as an application would.
    #[arg(long)]
    tracing: bool,
    /// mixed: measured operations per write rate (`--quick` divides by 10).
    #[arg(long, default_value_t = 10_000)]
    mixed_ops: usize,
    /// mixed: the seed of the key and operation generator.
    #[arg(long, default_value_t = 10)]
    seed: u64,
    /// hit-sweep: measured operations per write rate and key type (`--quick` divides by 10).
    #[arg(long, default_value_t = 1_000)]
    sweep_ops: usize,
    /// hit-sweep: rows (keys) per table.
    #[arg(long, default_value_t = 2_000)]
    sweep_keys: i32,
    /// hit-loop: the store to read.
    #[arg(long, value_enum, default_value = "memory")]
    loop_backend: profile::LoopBackend,
    /// hit-loop: the cache's consistency mode.
    #[arg(long, value_enum, default_value = "default")]
    loop_mode: Mode,
    /// hit-loop: the read to repeat.
    #[arg(long, value_enum, default_value = "find-by-pk")]
    loop_op: profile::LoopOp,
    /// redis: how the caches encode values (JSON is the library's default).
    #[arg(long, value_enum, default_value = "json")]
    redis_serde: RedisSerde,
    /// hit-loop: how many reads.
    #[arg(long, default_value_t = 100_000)]
    iterations: usize,
    /// Run on a current-thread tokio runtime instead of two workers: with one thread the
    /// instructions a profiler counts per read repeat from run to run (two workers spin and
    /// park depending on timing).
    #[arg(long)]
    current_thread: bool,
    /// service: seconds of the cached run with its fault schedule (the uncached run lasts a
    /// third of it; `--quick`: 30 s). From 123 s on, each fault is active for 10 s.
    #[arg(long, default_value_t = 125.0)]
    service_secs: f64,
    /// service: offered requests per second (open loop), both runs.
    #[arg(long, default_value_t = 40.0)]
    service_rps: f64,
    /// service: seconds per step of the capacity ramp after each run (0: no ramp).
    #[arg(long, default_value_t = 3.0)]
    service_ramp_step_secs: f64,
    /// service: the p99 latency (ms) a ramp step must meet.
    #[arg(long, default_value_t = 100.0)]
    service_p99_target_ms: f64,
    /// service: seeded users (each with --service-posts-per-user posts).
    #[arg(long, default_value_t = 1_000)]
    service_users: usize,
    /// service: posts per seeded user.
    #[arg(long, default_value_t = 3)]
    service_posts_per_user: usize,
    /// service: where `service` and `momento-seaorm-invalidator` are (default: next to this
    /// executable).
    #[arg(long)]
    service_bin_dir: Option<PathBuf>,
    /// service: the invalidator's max_lag and the processes' gate, ms (plain-connection writes
    /// may be read stale for max_lag + the near cache's max_staleness).
    #[arg(long, default_value_t = 2_000)]
    service_max_lag_ms: u64,
    /// service: the near cache's max_staleness, ms.
    #[arg(long, default_value_t = 1_000)]
    service_near_staleness_ms: u64,
    /// service: before the cached run, read this fraction of the keys once, the hottest first
    /// (0: start cold; 1: every key, about 7,000 reads).
    #[arg(long, default_value_t = 0.2)]
    service_warm_fraction: f64,
    /// service: where the SVG plots are written.
    #[arg(long, default_value = "docs/img")]
    plots_dir: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Every scenario below except hit-loop.
    All,
    Hit,
    Throughput,
    Expensive,
    Miss,
    Codec,
    Offload,
    Memory,
    /// Hits and throughput on Redis (the machine's, `REDIS_URL`) and on a 3-primary cluster
    /// this starts, against the redis crate's own GET.
    Redis,
    /// Change capture: commit-to-invalidation lag per database.
    Cdc,
    /// Hit ratio of Zipf reads with 0/1/5/10% row writes over two caches (issue 10).
    Mixed,
    /// The near cache: near hits, zipfian backend share, throughput, invalidation delay.
    Near,
    /// Hit ratio against write rate (0–20%) per key type, drawn to docs/img (issue 22).
    HitSweep,
    /// A bare hit loop for profilers.
    HitLoop,
    /// The example service under load and faults, 4 processes, cached against uncached (not
    /// in `all`: build `service-example` and `momento-seaorm-invalidator` first).
    Service,
}

impl Cli {
    fn runs(&self, scenario: Scenario) -> bool {
        self.scenario == scenario
            || (self.scenario == Scenario::All
                && !matches!(scenario, Scenario::HitLoop | Scenario::Service))
    }

    /// `full` rounds, or a tenth of them with `--quick`.
    fn rounds(&self, full: usize) -> usize {
        if self.quick {
            (full / 10).max(1)
        } else {
            full
        }
    }
}

fn main() -> BenchResult<()> {
    let cli = Cli::parse();
    if cli.tracing {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
            .init();
    }
    let runtime = match cli.current_thread {
        true => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        false => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?,
    };
    // On a worker thread, as a request handler would run.
    runtime.block_on(async { tokio::spawn(run(cli)).await })?
}

async fn run(cli: Cli) -> BenchResult<()> {
    println!(
        "momento-seaorm-cache benchmarks: tokio {} runtime, {} cores{}",
        match cli.current_thread {
            true => "current-thread",
            false => "multi-thread, 2 workers,",
        },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if cli.quick {
            " (quick: NOT a measurement)"
        } else {
            ""
        }
    );
    let mut top = Map::new();
    let mut scenarios = Map::new();
    run_latency_scenarios(&cli, &mut top, &mut scenarios).await?;
    run_database_scenarios(&cli, &mut top, &mut scenarios).await?;
    if cli.runs(Scenario::Near) {
        run_near(&cli, &mut top, &mut scenarios).await?;
    }
    if cli.runs(Scenario::HitSweep) {
        run_sweep(&cli, &mut top, &mut scenarios).await?;
    }
    if cli.runs(Scenario::Service) {
        run_service(&cli, &mut top, &mut scenarios).await?;
    }
    if cli.runs(Scenario::HitLoop) {
        let report =
            profile::run(cli.loop_backend, cli.loop_mode, cli.loop_op, cli.iterations).await?;
        println!("\nhit-loop: {report:?}");
        scenarios.insert("hit_loop".into(), serde_json::to_value(report)?);
    }
    let checks = targets::check(&top);
    if !checks.is_empty() {
        targets::print(&checks);
    }
    top.insert("targets".into(), serde_json::to_value(checks)?);
    top.insert("quick".into(), json!(cli.quick));
    top.insert("scenarios".into(), Value::Object(scenarios));
    if let Some(path) = &cli.json {
        std::fs::write(path, serde_json::to_string_pretty(&Value::Object(top))?)?;
        println!("\nwrote {}", path.display());
    }
    Ok(())
}

/// hit, throughput, memory and codec: the hit path and the stored value.
async fn run_latency_scenarios(
    cli: &Cli,
    top: &mut Map<String, Value>,
    scenarios: &mut Map<String, Value>,
) -> BenchResult<()> {
    for standalone in [false, true] {
        if standalone && !cli.runs(Scenario::Hit) && !cli.runs(Scenario::Throughput) {
            break;
        }
        if standalone {
            if let Err(e) = bench::standalone::binary() {
                println!("\n(skipped the standalone hit and throughput runs: {e})");
                break;
            }
            println!("\n-- the same against momento-lite started as its own process --");
        }
        if cli.runs(Scenario::Hit) {
            run_hit(cli, top, scenarios, standalone).await?;
        }
        if cli.runs(Scenario::Throughput) {
            run_throughput(cli, top, scenarios, standalone).await?;
        }
    }
    if cli.runs(Scenario::Codec) {
        let config = codec::CodecConfig {
            row_counts: vec![1, 100, 10_000],
            budget: Duration::from_millis(if cli.quick { 20 } else { 150 }),
        };
        let r = codec::run(&config)?;
        r.print();
        scenarios.insert("codec".into(), serde_json::to_value(r)?);
    }
    if cli.runs(Scenario::Offload) {
        let r = offload::run(40_000, cli.rounds(5))?;
        r.print();
        top.insert(
            "offload_hit_max_stall_ms".into(),
            json!(r.cached_hit_max_stall_ms),
        );
        top.insert(
            "offload_miss_max_stall_ms".into(),
            json!(r.cached_miss_max_stall_ms),
        );
        top.insert(
            "inline_decode_max_stall_ms".into(),
            json!(r.inline_decode_max_stall_ms),
        );
        top.insert(
            "inline_encode_max_stall_ms".into(),
            json!(r.inline_encode_max_stall_ms),
        );
        scenarios.insert("offload".into(), serde_json::to_value(r)?);
    }
    if cli.runs(Scenario::Memory) {
        let config = memory::MemoryConfig {
            rounds: cli.rounds(200_000),
            warmup: cli.rounds(20_000),
        };
        let r = memory::run(config).await?;
        r.print();
        let figures = [
            ("memory_hit_p50_us", r.find_by_pk.p50_us),
            ("memory_hit_p99_us", r.find_by_pk.p99_us),
            ("memory_hit_ttl_only_p50_us", r.find_by_pk_ttl_only.p50_us),
            ("memory_hit_ttl_only_p99_us", r.find_by_pk_ttl_only.p99_us),
            ("memory_hit_over_moka_get", r.find_by_pk_p50_ratio),
        ];
        put(top, &figures);
        scenarios.insert("memory".into(), serde_json::to_value(r)?);
    }
    if cli.runs(Scenario::Redis) {
        let config = redis::RedisConfig {
            rounds: cli.rounds(20_000),
            warmup: cli.rounds(2_000),
            throughput_secs: cli.throughput_secs * 4.0,
            serde_format: match cli.redis_serde {
                RedisSerde::Json => momento_seaorm_cache::SerdeFormat::Json,
                RedisSerde::Postcard => momento_seaorm_cache::SerdeFormat::Postcard,
            },
        };
        let r = redis::run(config).await?;
        r.print();
        let mut figures = Vec::new();
        if let Some(s) = &r.single {
            figures.extend([
                ("redis_hit_p50_ratio", s.hit_p50_ratio),
                ("redis_hit_vs_mget_p50_ratio", s.hit_vs_mget_p50_ratio),
                ("redis_hit_ttl_only_p50_ratio", s.ttl_only_p50_ratio),
                ("redis_adapter_get_p50_ratio", s.adapter_get_p50_ratio),
                ("redis_deadline_p50_ratio", s.deadline_p50_ratio),
                ("redis_throughput_64_ratio", s.throughput_64_ratio),
                ("redis_hit_p50_us", s.find_by_pk.p50_us),
                ("redis_raw_get_p50_us", s.raw_get.p50_us),
            ]);
        }
        if let Some(s) = &r.cluster {
            figures.extend([
                ("redis_cluster_hit_p50_ratio", s.hit_p50_ratio),
                (
                    "redis_cluster_hit_vs_mget_p50_ratio",
                    s.hit_vs_mget_p50_ratio,
                ),
                ("redis_cluster_hit_ttl_only_p50_ratio", s.ttl_only_p50_ratio),
                ("redis_cluster_throughput_64_ratio", s.throughput_64_ratio),
            ]);
        }
        put(top, &figures);
        scenarios.insert("redis".into(), serde_json::to_value(r)?);
    }
    Ok(())
}

/// expensive, miss, cdc and mixed: where the database is on the path.
async fn run_database_scenarios(
    cli: &Cli,
    top: &mut Map<String, Value>,
    scenarios: &mut Map<String, Value>,
) -> BenchResult<()> {
    if cli.runs(Scenario::Expensive) {
        let config = expensive::ExpensiveConfig {
            orders: cli.orders,
            users: 1_000,
            rounds: cli.rounds(40),
            warmup: cli.rounds(30).min(3),
            postgres_url: (!cli.no_postgres).then(|| cli.postgres_url.clone()),
        };
        let r = expensive::run(config).await?;
        r.print();
        top.insert(
            "expensive_speedup_sqlite".into(),
            json!(r.sqlite.speedup_p50),
        );
        if let Some(pg) = &r.postgres {
            top.insert("expensive_speedup_postgres".into(), json!(pg.speedup_p50));
        }
        scenarios.insert("expensive".into(), serde_json::to_value(r)?);
    }
    if cli.runs(Scenario::Miss) {
        let config = miss::MissConfig {
            iterations: cli.rounds(5_000),
            warmup: cli.rounds(500),
        };
        for standalone in [false, true] {
            if standalone {
                if let Err(e) = bench::standalone::binary() {
                    println!("\n(skipped the standalone miss run: {e})");
                    break;
                }
                println!("\n-- the same against momento-lite started as its own process --");
            }
            let r = miss::run(config, standalone).await?;
            r.print();
            let suffix = server_suffix(standalone);
            let figures = [
                ("miss_overhead_p50_us", r.overhead_p50_us),
                ("miss_ratio_p50", r.ratio_p50),
                ("miss_overhead_raw_gets", r.overhead_raw_gets),
                (
                    "miss_background_overhead_p50_us",
                    r.background_overhead_p50_us,
                ),
                (
                    "miss_background_overhead_raw_gets",
                    r.background_overhead_raw_gets,
                ),
            ];
            for (name, value) in figures {
                top.insert(format!("{name}{suffix}"), json!(value));
            }
            scenarios.insert(format!("miss{suffix}"), serde_json::to_value(r)?);
        }
    }
    if cli.runs(Scenario::Cdc) {
        let config = cdc::CdcConfig {
            commits: cli.rounds(500),
            postgres_url: (!cli.no_postgres).then(|| cli.postgres_url.clone()),
            mysql_url: (!cli.no_mysql).then(|| cli.mysql_url.clone()),
        };
        let r = cdc::run(config).await?;
        r.print();
        for (db, figures) in [("postgres", &r.postgres), ("mysql", &r.mysql)] {
            if let Some(f) = figures {
                top.insert(format!("cdc_lag_p50_ms_{db}"), json!(f.p50_ms));
                top.insert(format!("cdc_lag_p99_ms_{db}"), json!(f.p99_ms));
            }
        }
        scenarios.insert("cdc".into(), serde_json::to_value(r)?);
    }
    if cli.runs(Scenario::Mixed) {
        let ops = cli.rounds(cli.mixed_ops);
        let config = mixed::MixedConfig {
            users: 10_000,
            posts_per_user: 3,
            ops,
            warmup: ops / 10,
            write_percents: mixed::WRITE_PERCENTS.to_vec(),
            zipf_s: 1.0,
            seed: cli.seed,
            postgres_url: (!cli.no_postgres).then(|| cli.postgres_url.clone()),
            mysql_url: (!cli.no_mysql).then(|| cli.mysql_url.clone()),
        };
        let r = mixed::run(config).await?;
        r.print();
        for (suffix, figures) in [("", Some(&r.sqlite)), ("_postgres", r.postgres.as_ref())] {
            let Some(f) = figures else { continue };
            let read_only = f.hit_ratio(0);
            let names = [
                ("hit_ratio_read_only", read_only),
                ("hit_ratio_writes_1pct", f.hit_ratio(1)),
                ("hit_ratio_writes_5pct", f.hit_ratio(5)),
                ("hit_ratio_writes_10pct", f.hit_ratio(10)),
                (
                    "hit_ratio_writes_5pct_over_read_only",
                    bench::stats::ratio(f.hit_ratio(5), read_only),
                ),
            ];
            for (name, value) in names {
                top.insert(format!("{name}{suffix}"), json!(value));
            }
        }
        for (database, cells) in &r.matrix {
            for (cell, ratio) in cells {
                let suffix = if database == "sqlite" {
                    String::new()
                } else {
                    format!("_{database}")
                };
                top.insert(format!("{cell}{suffix}"), json!(ratio));
            }
        }
        top.insert(
            "mixed_matrix_stale_reads".into(),
            json!(r.matrix_stale_reads),
        );
        scenarios.insert("mixed".into(), serde_json::to_value(r)?);
    }
    Ok(())
}

/// The near cache's figures.
async fn run_near(
    cli: &Cli,
    top: &mut Map<String, Value>,
    scenarios: &mut Map<String, Value>,
) -> BenchResult<()> {
    let config = near::NearConfig {
        hit_rounds: cli.rounds(200_000),
        zipf_reads: cli.rounds(200_000),
        throughput_secs: if cli.quick {
            0.4
        } else {
            cli.throughput_secs * 2.0
        },
        writes: cli.rounds(500),
        max_staleness: Duration::from_millis(100),
    };
    let r = near::run(config).await?;
    r.print();
    let ms = |us: f64| (us / 1e3 * 1e3).round() / 1e3;
    let figures = [
        ("near_hit_p50_us", r.near_hit.p50_us),
        ("near_hit_p99_us", r.near_hit.p99_us),
        ("near_hit_batch_mean_us", r.near_hit_batch_mean_us),
        ("near_zipf_backend_share", r.zipf_backend_share),
        ("near_throughput_64_ratio", r.throughput_64_ratio),
        ("near_invalidation_p50_ms", ms(r.invalidation.p50_us)),
        ("near_invalidation_p99_ms", ms(r.invalidation.p99_us)),
        ("near_invalidation_max_ms", ms(r.invalidation.max_us)),
        (
            "near_invalidation_lossy_p50_ms",
            ms(r.invalidation_lossy.p50_us),
        ),
        (
            "near_invalidation_lossy_p99_ms",
            ms(r.invalidation_lossy.p99_us),
        ),
        (
            "near_invalidation_lossy_max_ms",
            ms(r.invalidation_lossy.max_us),
        ),
    ];
    put(top, &figures);
    scenarios.insert("near".into(), serde_json::to_value(r)?);
    Ok(())
}

/// The hit ratio against write rate, and its picture.
async fn run_sweep(
    cli: &Cli,
    top: &mut Map<String, Value>,
    scenarios: &mut Map<String, Value>,
) -> BenchResult<()> {
    let config = sweep::SweepConfig {
        keys: cli.sweep_keys,
        ops: cli.rounds(cli.sweep_ops),
        seed: cli.seed,
        postgres_url: (!cli.no_postgres).then(|| cli.postgres_url.clone()),
        img_dir: plot::img_dir(cli.quick),
    };
    let r = sweep::run(config).await?;
    r.print();
    for (name, value) in r.lines.iter().flat_map(|l| l.figures()) {
        top.insert(name, json!(value));
    }
    top.insert("hit_sweep_stale_reads".into(), json!(r.stale_reads));
    scenarios.insert("hit_sweep".into(), serde_json::to_value(r)?);
    Ok(())
}

/// The example service under load and faults.
async fn run_service(
    cli: &Cli,
    top: &mut Map<String, Value>,
    scenarios: &mut Map<String, Value>,
) -> BenchResult<()> {
    let secs = if cli.quick { 30.0 } else { cli.service_secs };
    let config = service::ServiceConfig {
        postgres_url: cli.postgres_url.clone(),
        secs,
        uncached_secs: (secs / 3.0).max(5.0),
        rate: cli.service_rps,
        users: cli.service_users,
        posts_per_user: cli.service_posts_per_user,
        near_staleness: Duration::from_millis(cli.service_near_staleness_ms),
        max_lag: Duration::from_millis(cli.service_max_lag_ms),
        checks_per_sec: 10.0,
        ramp_step_secs: if cli.quick {
            1.0
        } else {
            cli.service_ramp_step_secs
        },
        p99_target: Duration::from_secs_f64(cli.service_p99_target_ms / 1e3),
        warm_fraction: cli.service_warm_fraction,
        plots_dir: cli.plots_dir.clone(),
        bin_dir: cli.service_bin_dir.clone(),
    };
    let r = service::run(config).await?;
    r.print();
    for (name, value) in r.figures() {
        top.insert(name, json!(value));
    }
    scenarios.insert("service".into(), serde_json::to_value(r)?);
    Ok(())
}

/// Adds top-level figures.
fn put(top: &mut Map<String, Value>, figures: &[(&str, f64)]) {
    for &(name, value) in figures {
        top.insert(name.to_owned(), json!(value));
    }
}

/// The suffix of the figures measured against a standalone momento-lite.
fn server_suffix(standalone: bool) -> &'static str {
    if standalone {
        "_standalone"
    } else {
        ""
    }
}

/// The hit scenario against in-process or standalone momento-lite (figures `*_standalone`).
async fn run_hit(
    cli: &Cli,
    top: &mut Map<String, Value>,
    scenarios: &mut Map<String, Value>,
    standalone: bool,
) -> BenchResult<()> {
    let suffix = server_suffix(standalone);
    let config = hit::HitConfig {
        rounds: cli.rounds(20_000),
        warmup: cli.rounds(2_000),
    };
    let r = hit::run(config, standalone).await?;
    r.print();
    let figures = [
        ("hit_p50_ratio", r.find_by_pk_p50_ratio),
        ("hit_p99_ratio", r.find_by_pk_p99_ratio),
        (
            "hit_vs_get_batch_p50_ratio",
            r.find_by_pk_vs_batch_p50_ratio,
        ),
        (
            "hit_vs_get_batch_p99_ratio",
            r.find_by_pk_vs_batch_p99_ratio,
        ),
        ("hit_ttl_only_p50_ratio", r.ttl_only_p50_ratio),
        ("hit_ttl_only_p99_ratio", r.ttl_only_p99_ratio),
        ("hit_bounded_p50_ratio", r.bounded_p50_ratio),
        ("hit_bounded_p99_ratio", r.bounded_p99_ratio),
        ("cached_all_hit_p50_ratio", r.cached_all_p50_ratio),
        ("cached_all_hit_p99_ratio", r.cached_all_p99_ratio),
        ("hit_p50_us", r.find_by_pk.p50_us),
        ("raw_get_p50_us", r.raw_get.p50_us),
    ];
    let keys = [
        ("keys_per_strict_pk_hit", r.keys_per_strict_pk_hit),
        ("keys_per_strict_list_hit", r.keys_per_strict_list_hit),
        ("keys_per_ttl_only_pk_hit", r.keys_per_ttl_only_pk_hit),
    ];
    let counted = keys.iter().filter_map(|&(name, k)| k.map(|k| (name, k)));
    for (name, value) in figures.into_iter().chain(counted) {
        top.insert(format!("{name}{suffix}"), json!(value));
    }
    scenarios.insert(format!("hit{suffix}"), serde_json::to_value(r)?);
    Ok(())
}

/// The throughput scenario against in-process or standalone momento-lite (figures
/// `*_standalone`).
async fn run_throughput(
    cli: &Cli,
    top: &mut Map<String, Value>,
    scenarios: &mut Map<String, Value>,
    standalone: bool,
) -> BenchResult<()> {
    let suffix = server_suffix(standalone);
    let config = throughput::ThroughputConfig {
        seconds_per_side: if cli.quick { 0.4 } else { cli.throughput_secs },
        slices_per_side: 8,
        concurrency: vec![1, 16, 64, 256],
    };
    let r = throughput::run(config, standalone).await?;
    r.print();
    for row in &r.rows {
        let kind = match (row.mode, row.keys) {
            (_, throughput::Keys::Same) => "_same_key",
            (Mode::TtlOnly, _) => "_ttl_only",
            (Mode::Bounded, _) => "_bounded",
            (Mode::Default, _) => "",
        };
        let field = format!("throughput_{}_ratio{kind}{suffix}", row.concurrency);
        top.insert(field, json!(row.ratio));
    }
    scenarios.insert(format!("throughput{suffix}"), serde_json::to_value(r)?);
    Ok(())
}

/// `--redis-serde`: the library's `SerdeFormat`, named for the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum RedisSerde {
    Json,
    Postcard,
}

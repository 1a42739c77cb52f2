//! `bench -- service`: the example service (`examples/service`) on PostgreSQL as a user would
//! run it — 4 app processes sharing one momento-lite, near cache on, reads gated on one
//! change-capture invalidator program — under open-loop load, first with the cache off, then
//! on with a fault schedule, checking every row version it reads.
//!
//! * [`procs`] — the child processes (found next to the bench's executable) and their guard.
//! * [`load`] — the open-loop generator and its HDR histograms.
//! * [`ops`] — the request mix and the second service's plain-connection writes.
//! * [`checker`] — the write log and the database-against-service checker.
//! * [`dbstats`] — database statements per second from each process's `/stats`.
//! * [`faults`] — the fault schedule of the cached run.
//! * [`floor`] — the same requests through an ideal cache: what any exact cache must load.
//! * [`lite`] — the shared momento-lite on a runtime of its own.
//! * [`report`] — the figures, the table and the plots.
//! * [`warm`] — one read of each of the hottest keys before the cached run.
//!
//! momento-lite runs inside the bench on a runtime of its own ([`lite`]), so the schedule can
//! stop it and inject latency; the service processes and the invalidator reach it over TCP. The database is `bench_service` on
//! the given PostgreSQL server (created if missing), so other users of `test` are untouched.

pub mod checker;
pub mod dbstats;
pub mod faults;
pub mod floor;
pub mod lite;
pub mod load;
pub mod ops;
pub mod procs;
pub mod report;
pub mod warm;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use momento_seaorm_cache::Invalidator;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};

use crate::fixtures::BenchResult;
use checker::{Bounds, WriteLog};
use lite::LiteHost;
use load::Targets;
use ops::{Ctx, Mix};
use procs::Fleet;
use report::{ModeRun, RampStep, ServiceReport};

/// The database the scenario creates and seeds.
const DATABASE: &str = "bench_service";
/// The invalidator's name: its replication slot and its heartbeat key.
const INVALIDATOR: &str = "bench_service_inv";
/// The cache the processes and the invalidator share.
const CACHE: &str = "bench-service";
/// App processes.
const APPS: usize = 4;

/// What to run.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The PostgreSQL server (its database part is replaced by `bench_service`).
    pub postgres_url: String,
    /// Seconds of the cached run (the fault schedule scales with it).
    pub secs: f64,
    /// Seconds of the uncached run.
    pub uncached_secs: f64,
    /// Offered requests per second, both runs.
    pub rate: f64,
    /// Seeded users, and posts per user.
    pub users: usize,
    /// Posts per user.
    pub posts_per_user: usize,
    /// The near cache's `max_staleness`.
    pub near_staleness: Duration,
    /// The invalidator's `max_lag` (and the processes' gate).
    pub max_lag: Duration,
    /// Checker checks per second.
    pub checks_per_sec: f64,
    /// After each steady run: offered rates of 1, 2, 4, 8 and 16 times `rate` for this many
    /// seconds each, up to the first that misses `p99_target` (0: no ramp).
    pub ramp_step_secs: f64,
    /// The p99 latency a ramp step must meet.
    pub p99_target: Duration,
    /// Before the cached run, read the hottest fraction of the keys once (see [`warm`]; 0:
    /// start cold).
    pub warm_fraction: f64,
    /// Where the SVG plots go.
    pub plots_dir: PathBuf,
    /// Where the `service` and `momento-seaorm-invalidator` binaries are (default: next to the
    /// bench's executable).
    pub bin_dir: Option<PathBuf>,
}

/// Runs the scenario.
pub async fn run(config: ServiceConfig) -> BenchResult<ServiceReport> {
    let db_url = ensure_database(&config.postgres_url).await?;
    let _ = Invalidator::drop_postgres_slot(&db_url, INVALIDATOR).await;
    let bin_dir = procs::bin_dir(config.bin_dir.as_deref())?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(512)
        .build()?;
    let lite = LiteHost::start().await?;
    let log_dir = std::env::temp_dir().join("bench-service-logs");
    let mut fleet = Fleet::new(bin_dir, log_dir.clone(), http.clone())?;
    println!(
        "\nservice: seeding {} users x {} posts; process logs in {}",
        config.users,
        config.posts_per_user,
        log_dir.display()
    );
    fleet.setup(&setup_args(&config, &db_url)).await?;
    let plain =
        Database::connect(ConnectOptions::new(&db_url).max_connections(8).to_owned()).await?;
    let urls: Vec<String> = (0..APPS)
        .map(|_| procs::free_port().map(|p| format!("http://127.0.0.1:{p}")))
        .collect::<BenchResult<_>>()?;
    let s = Setup {
        config: &config,
        db_url: &db_url,
        http,
        plain,
        urls,
    };
    // Ctrl-C ends the runs early so the fleet is dropped, killing its processes.
    let result = tokio::select! {
        result = s.both_runs(&lite, &mut fleet) => result,
        _ = tokio::signal::ctrl_c() => Err("interrupted".into()),
    };
    drop(fleet);
    drop(lite);
    let _ = Invalidator::drop_postgres_slot(&db_url, INVALIDATOR).await;
    let (uncached, cached) = result?;
    let report = ServiceReport::new(&config, uncached, cached);
    report.plot(&config.plots_dir)?;
    Ok(report)
}

/// Everything both runs share.
struct Setup<'a> {
    config: &'a ServiceConfig,
    db_url: &'a str,
    http: reqwest::Client,
    plain: DatabaseConnection,
    urls: Vec<String>,
}

impl Setup<'_> {
    async fn both_runs(
        &self,
        lite: &LiteHost,
        fleet: &mut Fleet,
    ) -> BenchResult<(ModeRun, ModeRun)> {
        let c = self.config;
        let endpoint = lite.endpoint().to_owned();
        println!(
            "service: uncached run, {} s at {} rps",
            c.uncached_secs, c.rate
        );
        fleet
            .start_apps(&self.urls, &self.app_args(&endpoint, false))
            .await?;
        let uncached = self.mode(None, fleet, c.uncached_secs).await?;
        fleet.stop_apps();
        let listen = procs::free_port()?;
        fleet
            .start_invalidator(
                format!("http://127.0.0.1:{listen}"),
                self.invalidator_args(&endpoint, listen),
            )
            .await?;
        println!(
            "service: cached run with faults, {} s at {} rps",
            c.secs, c.rate
        );
        fleet
            .start_apps(&self.urls, &self.app_args(&endpoint, true))
            .await?;
        if c.warm_fraction > 0.0 {
            self.warm().await;
        }
        let cached = self.mode(Some(lite), fleet, c.secs).await?;
        fleet.stop_apps();
        Ok((uncached, cached))
    }

    /// One steady run (with the fault schedule when `lite` is given, i.e. cached), then the
    /// ramp.
    async fn mode(
        &self,
        lite: Option<&LiteHost>,
        fleet: &mut Fleet,
        secs: f64,
    ) -> BenchResult<ModeRun> {
        let c = self.config;
        let cached = lite.is_some();
        let bounds = if cached {
            Bounds {
                near_staleness: c.near_staleness,
                max_lag: c.max_lag,
            }
        } else {
            Bounds::STRICT
        };
        let targets = Arc::new(Targets::new(self.urls.clone()));
        let log = Arc::new(WriteLog::new(bounds, Instant::now()));
        let ctx = Arc::new(Ctx::new(
            self.http.clone(),
            targets.clone(),
            self.plain.clone(),
            log.clone(),
            c.posts_per_user,
        ));
        let posts = c.users * c.posts_per_user;
        if cached {
            let (users, posts) = self.hot();
            ctx.floor.fill(warm::ops(users, posts));
        }
        let mix = Arc::new(Mix::new(c.users, posts, 0.05));
        let start = Instant::now();
        let wait = (bounds.max_lag + bounds.near_staleness).as_secs_f64();
        let load = load::run_phase(ctx.clone(), mix.clone(), c.rate, secs, 1, start);
        let checks = checker::run(
            ctx.clone(),
            mix.clone(),
            c.checks_per_sec,
            (secs - wait).max(0.0),
        );
        let db = dbstats::poll(self.http.clone(), targets.clone(), secs);
        let windows = async {
            match lite {
                Some(lite) => faults::run(lite, fleet, &targets, start, secs).await,
                None => Ok(Vec::new()),
            }
        };
        let (recorder, checker, db, windows) = tokio::join!(load, checks, db, windows);
        let windows = windows?;
        let cache = dbstats::report_totals(&self.http, &targets).await;
        let floor = ctx.floor.floor();
        let ramp = self.ramp(ctx.clone(), mix).await;
        Ok(ModeRun {
            cached,
            rate: c.rate,
            secs,
            recorder,
            db,
            checker,
            windows,
            writes: log.writes(),
            ramp,
            ctx,
            cache,
            floor,
        })
    }

    /// Reads the hottest keys once through the cached processes.
    async fn warm(&self) {
        let c = self.config;
        let targets = Arc::new(Targets::new(self.urls.clone()));
        let log = Arc::new(WriteLog::new(Bounds::STRICT, Instant::now()));
        let ctx = Ctx::new(
            self.http.clone(),
            targets,
            self.plain.clone(),
            log,
            c.posts_per_user,
        );
        let (users, posts) = self.hot();
        let (sent, failed, secs) = warm::warm(Arc::new(ctx), users, posts).await;
        println!("service: warmed the cache: {sent} reads ({failed} failed) in {secs:.1} s");
    }

    /// The users and posts the warm-up reads: the hottest `warm_fraction` of each.
    fn hot(&self) -> (usize, usize) {
        let c = self.config;
        let hot = |n: usize| ((n as f64 * c.warm_fraction).ceil() as usize).min(n);
        (hot(c.users), hot(c.users * c.posts_per_user))
    }

    /// Offered rates of 1, 2, 4, 8, 16 × the base rate until one misses the p99 target, has
    /// errors or falls 2% behind.
    async fn ramp(&self, ctx: Arc<Ctx>, mix: Arc<Mix>) -> Vec<RampStep> {
        let c = self.config;
        let mut steps = Vec::new();
        if c.ramp_step_secs <= 0.0 {
            return steps;
        }
        for k in [1.0, 2.0, 4.0, 8.0, 16.0] {
            let rate = c.rate * k;
            let start = Instant::now();
            let r =
                load::run_phase(ctx.clone(), mix.clone(), rate, c.ramp_step_secs, 7, start).await;
            let achieved = r.done as f64 / start.elapsed().as_secs_f64();
            let p99 = load::ms(&r.latency, 99.0);
            let expected = rate * c.ramp_step_secs;
            let ok = p99 <= c.p99_target.as_secs_f64() * 1e3
                && r.errors + r.unsent == 0
                && r.done as f64 >= 0.98 * expected;
            steps.push(RampStep {
                offered_rps: rate,
                achieved_rps: (achieved * 10.0).round() / 10.0,
                p99_ms: p99,
                errors: r.errors + r.unsent,
                ok,
            });
            if !ok {
                break;
            }
        }
        steps
    }

    fn app_args(&self, endpoint: &str, cache: bool) -> Vec<Vec<String>> {
        let c = self.config;
        self.urls
            .iter()
            .map(|url| {
                let listen = url.trim_start_matches("http://");
                let mut args = vec![
                    "--listen".into(),
                    listen.into(),
                    "--database-url".into(),
                    self.db_url.into(),
                    "--momento-lite-endpoint".into(),
                    endpoint.into(),
                    "--cache-name".into(),
                    CACHE.into(),
                    "--cache".into(),
                    if cache { "on" } else { "off" }.into(),
                ];
                if cache {
                    args.extend([
                        "--near".into(),
                        "--near-max-staleness-ms".into(),
                        c.near_staleness.as_millis().to_string(),
                        "--gate-invalidator".into(),
                        INVALIDATOR.into(),
                        "--max-lag-ms".into(),
                        c.max_lag.as_millis().to_string(),
                    ]);
                }
                args
            })
            .collect()
    }

    fn invalidator_args(&self, endpoint: &str, listen: u16) -> Vec<String> {
        [
            "--database-url",
            self.db_url,
            "--name",
            INVALIDATOR,
            "--max-lag-ms",
            &self.config.max_lag.as_millis().to_string(),
            "--cache-name",
            CACHE,
            "--create-cache",
            "--momento-lite-endpoint",
            endpoint,
            "--listen",
            &format!("127.0.0.1:{listen}"),
        ]
        .map(String::from)
        .to_vec()
    }
}

fn setup_args(config: &ServiceConfig, db_url: &str) -> Vec<String> {
    [
        "--setup",
        "--database-url",
        db_url,
        "--users",
        &config.users.to_string(),
        "--posts-per-user",
        &config.posts_per_user.to_string(),
    ]
    .map(String::from)
    .to_vec()
}

/// Creates the `bench_service` database on the server of `url` if it is missing; returns its
/// URL.
async fn ensure_database(url: &str) -> BenchResult<String> {
    let (server, _) = url
        .rsplit_once('/')
        .ok_or("the PostgreSQL URL has no database part")?;
    let db = Database::connect(url).await?;
    let sql = format!("SELECT 1 AS one FROM pg_database WHERE datname = '{DATABASE}'");
    if db.query_one_raw(raw(&sql)).await?.is_none() {
        db.execute_unprepared(&format!("CREATE DATABASE {DATABASE}"))
            .await?;
    }
    db.close().await?;
    Ok(format!("{server}/{DATABASE}"))
}

fn raw(sql: &str) -> sea_orm::Statement {
    sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, sql)
}

//! `hit-sweep`: the hit ratio against the write rate, per key type (issue 22's picture).
//!
//! The [`crate::mixed`] workload (Zipf reads over two caches sharing one momento-lite,
//! Strict, every read checked against the last write) at writes of 0, 1, 2, 5, 10 and 20% of
//! operations, for each key type (`int`: users by id and their posts by `user_id`; `uuid`:
//! accounts by UUID primary key; `string`: contacts by email, see [`crate::mixed_keys`]).
//! On in-memory SQLite the writes go through the caches' `CachedConnection`s; on PostgreSQL,
//! when reachable, through a plain connection of "another service", reaching the caches by
//! change capture (each write caught up before the next read). With `CachedConnection`
//! writes the hit ratio hardly depends on the database (same seeded operations, same
//! invalidations: the `mixed` matrix's 5% cells agree within 0.002 on SQLite, PostgreSQL and
//! MariaDB), so PostgreSQL measures the other writer. Each line runs on a fresh database and
//! momento-lite ([`crate::mixed::cell`]).
//!
//! Figures: `hit_sweep_<key>_<percent>` is the hit ratio at that rate over the read-only one
//! (suffixed `_postgres_cdc` on PostgreSQL), `hit_sweep_stale_reads` the stale reads over
//! every run (must be 0). The picture: `hit-ratio-vs-writes.svg`, one line per key type and
//! database ([`crate::plot::xy_svg`]).

use std::path::PathBuf;

use serde::Serialize;

use crate::fixtures::BenchResult;
use crate::mixed::{self, DbFigures, MixedConfig};
use crate::mixed_db::DbKind;
use crate::mixed_keys::KeyKind;
use crate::plot::{self, TimeSeries};

/// The write rates of the sweep, in percent of operations.
pub const SWEEP_PERCENTS: [u32; 6] = [0, 1, 2, 5, 10, 20];

/// The key types swept, in the picture's order.
pub const SWEEP_KEYS: [KeyKind; 3] = [KeyKind::Int, KeyKind::Uuid, KeyKind::Str];

/// The file name of the picture in the image directory.
pub const PLOT_FILE: &str = "hit-ratio-vs-writes.svg";

/// The sweep's size, and where its picture goes.
#[derive(Debug, Clone)]
pub struct SweepConfig {
    /// Rows (keys) per table.
    pub keys: i32,
    /// Measured operations per write rate (a tenth of them again as warm-up).
    pub ops: usize,
    pub seed: u64,
    /// PostgreSQL server to use; `None` skips it.
    pub postgres_url: Option<String>,
    /// The directory of the picture (see [`plot::img_dir`]).
    pub img_dir: PathBuf,
}

/// One write rate of one line.
#[derive(Debug, Clone, Serialize)]
pub struct SweepPoint {
    pub write_percent: u32,
    pub reads: usize,
    pub writes: usize,
    /// Hits over cached reads.
    pub hit_ratio: f64,
    /// `hit_ratio` over the read-only one.
    pub over_read_only: f64,
    /// Reads whose value differed from the last write (must be 0).
    pub stale_reads: usize,
}

/// One key type on one database.
#[derive(Debug, Clone, Serialize)]
pub struct SweepLine {
    pub database: &'static str,
    pub key: &'static str,
    /// `connection` (the caches' `CachedConnection`s) or `cdc` (change capture).
    pub writer: &'static str,
    pub points: Vec<SweepPoint>,
}

/// The sweep's figures.
#[derive(Debug, Clone, Serialize)]
pub struct SweepReport {
    pub seed: u64,
    pub keys: i32,
    pub ops: usize,
    pub warmup: usize,
    pub lines: Vec<SweepLine>,
    /// Stale reads over every line and rate (must be 0).
    pub stale_reads: usize,
    /// Why PostgreSQL was skipped, if it was.
    pub postgres_skipped: Option<String>,
    /// The picture written.
    pub plot: String,
}

impl SweepLine {
    fn from_figures(f: &DbFigures) -> SweepLine {
        let read_only = f.hit_ratio(0);
        let points = f.rates.iter().map(|r| SweepPoint {
            write_percent: r.write_percent,
            reads: r.reads,
            writes: r.writes,
            hit_ratio: r.hit_ratio,
            over_read_only: crate::stats::ratio(r.hit_ratio, read_only),
            stale_reads: r.stale_reads,
        });
        SweepLine {
            database: f.database,
            key: f.key,
            writer: f.writer,
            points: points.collect(),
        }
    }

    /// The JSON figures of this line: `hit_sweep_<key>_<percent>[_<database>[_cdc]]`.
    pub fn figures(&self) -> Vec<(String, f64)> {
        let suffix = match (self.database, self.writer) {
            ("sqlite", "connection") => String::new(),
            (db, "connection") => format!("_{db}"),
            (db, writer) => format!("_{db}_{writer}"),
        };
        self.points
            .iter()
            .map(|p| {
                let name = format!("hit_sweep_{}_{}{suffix}", self.key, p.write_percent);
                (name, p.over_read_only)
            })
            .collect()
    }
}

/// Every key type on `(kind, url)`, written through change capture when `cdc`:
/// `Ok(Err(reason))` when the server is not reachable.
async fn lines_on(
    (kind, url): (DbKind, &str),
    config: &MixedConfig,
    cdc: bool,
) -> BenchResult<Result<Vec<SweepLine>, String>> {
    let mut lines = Vec::new();
    for key in SWEEP_KEYS {
        match mixed::cell((kind, url), key, config, (cdc, None)).await? {
            Ok(f) => lines.push(SweepLine::from_figures(&f)),
            Err(reason) => return Ok(Err(reason)),
        }
    }
    Ok(Ok(lines))
}

/// Runs the sweep on SQLite and PostgreSQL (if reachable) and draws the picture.
pub async fn run(config: SweepConfig) -> BenchResult<SweepReport> {
    let mixed = MixedConfig {
        users: config.keys,
        posts_per_user: 3,
        ops: config.ops,
        warmup: config.ops / 10,
        write_percents: SWEEP_PERCENTS.to_vec(),
        zipf_s: 1.0,
        seed: config.seed,
        postgres_url: None,
        mysql_url: None,
    };
    let mut lines = lines_on((DbKind::Sqlite, ""), &mixed, false)
        .await?
        .map_err(|e| e.to_string())?;
    let mut postgres_skipped = None;
    match &config.postgres_url {
        None => postgres_skipped = Some("no PostgreSQL URL given".to_owned()),
        Some(url) => match lines_on((DbKind::Postgres, url), &mixed, true).await? {
            Ok(found) => lines.extend(found),
            Err(reason) => postgres_skipped = Some(reason),
        },
    }
    let stale_reads = lines
        .iter()
        .flat_map(|l| &l.points)
        .map(|p| p.stale_reads)
        .sum();
    let path = config.img_dir.join(PLOT_FILE);
    draw(&path, &lines, &mixed)?;
    Ok(SweepReport {
        seed: config.seed,
        keys: config.keys,
        ops: config.ops,
        warmup: mixed.warmup,
        lines,
        stale_reads,
        postgres_skipped,
        plot: path.display().to_string(),
    })
}

/// The picture: hit ratio against write rate, one line per key type and database.
fn draw(path: &std::path::Path, lines: &[SweepLine], config: &MixedConfig) -> BenchResult<()> {
    let database = |l: &SweepLine| match (l.database, l.writer) {
        ("sqlite", _) => "SQLite".to_owned(),
        ("postgres", "cdc") => "PostgreSQL, writes by change capture".to_owned(),
        (db, writer) => format!("{db}, {writer}"),
    };
    let series: Vec<TimeSeries> = lines
        .iter()
        .map(|l| TimeSeries {
            label: format!("{} key, {}", l.key, database(l)),
            points: l
                .points
                .iter()
                .map(|p| (f64::from(p.write_percent), p.hit_ratio))
                .collect(),
        })
        .collect();
    let title = format!(
        "Hit ratio against write rate (Zipf s = {}, {} keys, {} ops per rate, Strict)",
        config.zipf_s, config.users, config.ops
    );
    let y_label = "hit ratio (hits / cached reads)";
    plot::xy_svg(path, &title, "writes (% of operations)", y_label, &series)?;
    Ok(())
}

impl SweepReport {
    /// Prints the table.
    pub fn print(&self) {
        println!("\n== hit-sweep: hit ratio against write rate per key type (mixed workload) ==");
        println!(
            "  seed {}, {} keys, {} ops per rate after {} warm-up ops; writer: connection = the \
             caches' CachedConnections, cdc = a plain connection + change capture",
            self.seed, self.keys, self.ops, self.warmup
        );
        let header: String = SWEEP_PERCENTS.iter().map(|p| format!("{p:>7}%")).collect();
        println!("  {:<26} {header}   (hit ratio; over read-only)", "writes:");
        for l in &self.lines {
            let name = format!("{} {} {}", l.database, l.key, l.writer);
            let ratios: String = l
                .points
                .iter()
                .map(|p| format!("{:>8.4}", p.hit_ratio))
                .collect();
            let over: String = l
                .points
                .iter()
                .map(|p| format!("{:>8.4}", p.over_read_only))
                .collect();
            println!("  {name:<26} {ratios}");
            println!("  {:<26} {over}", "");
        }
        println!("  stale reads: {}", self.stale_reads);
        if let Some(reason) = &self.postgres_skipped {
            println!("  NOTE: PostgreSQL skipped: {reason}");
        }
        println!("  wrote {}", self.plot);
    }
}

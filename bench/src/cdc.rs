//! Change capture: commit-to-invalidation lag. A write through a plain connection (not a
//! `CachedConnection`) commits; the table's generation key is then read from the cache until
//! the invalidator has changed it. Per database: p50, p99 and max over `commits` commits,
//! spread over every point of the PostgreSQL poll (pauses of 0–19 ms between commits).
//! A database that is not reachable or not set up for change capture is skipped with a note.

use std::time::{Duration, Instant};

use momento_seaorm_cache::{Invalidator, ModelCache};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde::Serialize;

use crate::fixtures::{BenchResult, Lite};
use crate::stats::percentile;

/// What to measure.
#[derive(Debug, Clone)]
pub struct CdcConfig {
    pub commits: usize,
    pub postgres_url: Option<String>,
    pub mysql_url: Option<String>,
}

/// Lag figures of one database.
#[derive(Debug, Clone, Serialize)]
pub struct LagFigures {
    pub commits: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Both databases' figures, or why one was skipped.
#[derive(Debug, Clone, Serialize)]
pub struct CdcReport {
    pub postgres: Option<LagFigures>,
    pub mysql: Option<LagFigures>,
    pub skipped: Vec<String>,
}

/// The lag target: p99 at most this many milliseconds.
pub const TARGET_P99_MS: f64 = 50.0;

impl CdcReport {
    pub fn print(&self) {
        println!("\ncdc: commit → generation changed (a plain-connection UPDATE per commit)");
        for (name, figures) in [("postgres", &self.postgres), ("mysql", &self.mysql)] {
            if let Some(f) = figures {
                let met = if f.p99_ms <= TARGET_P99_MS {
                    "met"
                } else {
                    "NOT met"
                };
                println!(
                    "  {name:9} {} commits: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms \
                     (target p99 ≤ {TARGET_P99_MS} ms: {met})",
                    f.commits, f.p50_ms, f.p99_ms, f.max_ms
                );
            }
        }
        for note in &self.skipped {
            println!("  skipped: {note}");
        }
    }
}

pub async fn run(config: CdcConfig) -> BenchResult<CdcReport> {
    let lite = Lite::start().await?;
    let cache = lite.model_cache()?;
    let mut report = CdcReport {
        postgres: None,
        mysql: None,
        skipped: Vec::new(),
    };
    if let Some(url) = &config.postgres_url {
        match measure(Kind::Postgres, url, &cache, config.commits).await {
            Ok(f) => report.postgres = Some(f),
            Err(e) => report.skipped.push(format!("postgres: {e}")),
        }
    }
    if let Some(url) = &config.mysql_url {
        match measure(Kind::MySql, url, &cache, config.commits).await {
            Ok(f) => report.mysql = Some(f),
            Err(e) => report.skipped.push(format!("mysql: {e}")),
        }
    }
    lite.stop().await;
    Ok(report)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Postgres,
    MySql,
}

async fn measure(
    kind: Kind,
    url: &str,
    cache: &ModelCache,
    commits: usize,
) -> Result<LagFigures, String> {
    let db = Database::connect(url).await.map_err(|e| e.to_string())?;
    let pid = std::process::id();
    let table = format!("cdc_bench_{pid}");
    let name = format!("msc_bench_{pid}");
    let sql = |s: String| s;
    exec(&db, sql(format!("DROP TABLE IF EXISTS {table}"))).await?;
    exec(
        &db,
        sql(format!(
            "CREATE TABLE {table} (id INT PRIMARY KEY, v INT NOT NULL)"
        )),
    )
    .await?;
    exec(&db, sql(format!("INSERT INTO {table} VALUES (1, 0)"))).await?;
    let builder = match kind {
        Kind::Postgres => Invalidator::postgres(url, cache),
        Kind::MySql => Invalidator::mysql(url, cache),
    };
    let result = async {
        let handle = builder
            .name(name.clone())
            .start()
            .await
            .map_err(|e| e.to_string())?;
        handle.healthy().await.map_err(|e| e.to_string())?;
        let key = format!("{}:gen:{table}", cache.prefix());
        let mut lags = Vec::with_capacity(commits);
        for i in 0..commits {
            let before = cache.backend().get(&key).await.map_err(|e| e.to_string())?;
            // A new value each time: MariaDB logs no row for an UPDATE that changes nothing.
            exec(
                &db,
                format!("UPDATE {table} SET v = {} WHERE id = 1", i + 1),
            )
            .await?;
            let committed = Instant::now();
            loop {
                let now = cache.backend().get(&key).await.map_err(|e| e.to_string())?;
                if now != before {
                    break;
                }
                if committed.elapsed() > Duration::from_secs(10) {
                    return Err("no invalidation within 10 s".to_owned());
                }
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            lags.push(committed.elapsed().as_nanos() as u64);
            tokio::time::sleep(Duration::from_millis((i as u64 * 7919) % 20)).await;
        }
        handle.stop().await;
        lags.sort_unstable();
        let ms = |nanos: u64| nanos as f64 / 1e6;
        Ok(LagFigures {
            commits,
            p50_ms: ms(percentile(&lags, 50.0)),
            p99_ms: ms(percentile(&lags, 99.0)),
            max_ms: ms(*lags.last().unwrap_or(&0)),
        })
    }
    .await;
    if kind == Kind::Postgres {
        let _ = Invalidator::drop_postgres_slot(url, &name).await;
    }
    let _ = exec(&db, format!("DROP TABLE IF EXISTS {table}")).await;
    result
}

async fn exec(db: &DatabaseConnection, sql: String) -> Result<(), String> {
    db.execute_unprepared(&sql)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

//! What a miss costs: `get` (miss) + query + encode + `set`, against the query alone.
//!
//! Read-aside caching makes every first read slower; this says by how much. Each iteration
//! reads a different primary key, so every cached read is a real miss (nothing is ever read
//! twice), and the plain SeaORM `find_by_id(pk).one(&db)` of the same key runs next to it, the
//! order alternating each round.

use momento_seaorm_cache::CacheStatus;
use sea_orm::EntityTrait;
use serde::Serialize;

use crate::fixtures::{self, user, BenchResult, Lite};
use crate::stats::{ratio, timed, Samples, Summary};

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
    /// `cache.wrap(user::Entity).find_by_pk(&db, pk)`, a miss on momento-lite.
    pub miss: Summary,
    /// Miss p50 minus query p50.
    pub overhead_p50_us: f64,
    pub ratio_p50: f64,
    pub ratio_p99: f64,
}

/// Runs the scenario on in-memory SQLite and momento-lite.
pub async fn run(config: MissConfig) -> BenchResult<MissReport> {
    let total = config.warmup + config.iterations;
    let lite = Lite::start().await?;
    let db = fixtures::sqlite_with_users(i32::try_from(total)?).await?;
    let cache = lite.model_cache()?;
    let users = cache.wrap(user::Entity);
    let mut query = Samples::with_capacity(config.iterations);
    let mut miss = Samples::with_capacity(config.iterations);
    for round in 0..total {
        let pk = i32::try_from(round + 1)?;
        let plain = || timed(user::Entity::find_by_id(pk).one(&db));
        let cached = || timed(users.find_by_pk_with_status(&db, pk));
        let (q, m) = if round.is_multiple_of(2) {
            let q = plain().await;
            (q, cached().await)
        } else {
            let m = cached().await;
            (plain().await, m)
        };
        q.0?.ok_or("no row")?;
        if m.0?.status != CacheStatus::Miss {
            return Err(format!("pk {pk} was not a miss").into());
        }
        if round >= config.warmup {
            query.push(q.1);
            miss.push(m.1);
        }
    }
    lite.stop().await;
    let (query, miss) = (query.summary(), miss.summary());
    Ok(MissReport {
        iterations: config.iterations,
        query_only: query,
        miss,
        overhead_p50_us: ((miss.p50_us - query.p50_us) * 100.0).round() / 100.0,
        ratio_p50: ratio(miss.p50_us, query.p50_us),
        ratio_p99: ratio(miss.p99_us, query.p99_us),
    })
}

impl MissReport {
    /// Prints the table.
    pub fn print(&self) {
        println!("\n== miss: find_by_pk miss (get + query + encode + set) vs the query alone ==");
        println!("{}", Summary::header());
        println!("{}", self.query_only.row("find_by_id(pk).one() (SQLite)"));
        println!("{}", self.miss.row("find_by_pk miss (momento-lite)"));
        println!(
            "  miss / query: p50 {:.3}x, p99 {:.3}x; a miss adds {:.1} µs at p50",
            self.ratio_p50, self.ratio_p99, self.overhead_p50_us
        );
    }
}

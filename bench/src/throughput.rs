//! Hit throughput under concurrency, against the raw SDK at the same concurrency.
//!
//! Latency at one task hides costs that only show when the cores are busy: allocations, locks,
//! a shared `Arc` bouncing between cores. Here N tasks loop on `find_by_pk` hits (or on the raw
//! SDK `get` of the same key) for a fixed time and we count completed operations. Each side's
//! time is cut into slices run in the order raw, cached, cached, raw, … so slow drift of the
//! machine lands on both sides equally; the reported ratio is the median over adjacent
//! (raw, cached) pairs, so a burst of outside load spoils one pair, not the figure.
//!
//! Three series are run. With distinct keys (task i reads user i) every read is a real backend
//! call, so the ratio is the library's per-hit cost under load: the default cache (`Strict`,
//! a batch get per hit) is the headline, and `TtlOnly` (one plain get) shows the library without
//! generations. With one shared key the library's single flight lets concurrent readers of that
//! key share one lookup, so it can beat the raw SDK by far; that shows what coalescing buys a hot
//! key, not what a hit costs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::fixtures::BenchResult;
use crate::hit_target::{HitTarget, Mode, KEYED_USERS};
use crate::standalone::Server;
use crate::stats::ratio;

/// How long each side runs per concurrency level, and in how many slices.
#[derive(Debug, Clone)]
pub struct ThroughputConfig {
    pub seconds_per_side: f64,
    pub slices_per_side: u32,
    pub concurrency: Vec<usize>,
}

/// Which keys the tasks read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Keys {
    /// Task i reads user (i mod 256) + 1: no two concurrent tasks share a key.
    Distinct,
    /// Every task reads user 1.
    Same,
}

/// One concurrency level of one series.
#[derive(Debug, Clone, Serialize)]
pub struct ThroughputRow {
    pub mode: Mode,
    pub keys: Keys,
    pub concurrency: usize,
    pub raw_ops_per_sec: f64,
    pub cached_ops_per_sec: f64,
    /// Cached over raw: the median over adjacent (raw, cached) slice pairs, so a burst of
    /// load from outside the benchmark spoils one pair rather than the figure.
    pub ratio: f64,
    /// Cached ops/s over raw ops/s, each summed over all its slices.
    pub ratio_of_totals: f64,
}

/// The throughput scenario's figures.
#[derive(Debug, Clone, Serialize)]
pub struct ThroughputReport {
    pub seconds_per_side: f64,
    pub slices_per_side: u32,
    pub rows: Vec<ThroughputRow>,
}

impl ThroughputReport {
    /// Prints the table.
    pub fn print(&self) {
        println!(
            "\n== throughput: find_by_pk hits vs raw SDK gets, {} s per side ==",
            self.seconds_per_side
        );
        println!(
            "  {:<9} {:<9} {:>6} {:>16} {:>16} {:>8} {:>8}",
            "mode", "keys", "tasks", "raw get ops/s", "find_by_pk ops/s", "ratio", "totals"
        );
        for r in &self.rows {
            println!(
                "  {:<9} {:<9} {:>6} {:>16.0} {:>16.0} {:>8.3} {:>8.3}",
                format!("{:?}", r.mode),
                format!("{:?}", r.keys).to_lowercase(),
                r.concurrency,
                r.raw_ops_per_sec,
                r.cached_ops_per_sec,
                r.ratio,
                r.ratio_of_totals
            );
        }
    }
}

/// Runs `concurrency` tasks doing one kind of operation for `duration`; returns ops and the
/// wall time until the last task finished its last operation.
/// A series and a concurrency level.
type Level = (Mode, Keys, usize);

async fn slice(
    target: &Arc<HitTarget>,
    cached: bool,
    (mode, keys, concurrency): Level,
    duration: Duration,
) -> BenchResult<(u64, Duration)> {
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..concurrency)
        .map(|i| {
            let target = Arc::clone(target);
            let pk = match keys {
                Keys::Distinct => (i as i32 % KEYED_USERS) + 1,
                Keys::Same => 1,
            };
            tokio::spawn(async move {
                let key = target.variant(mode).pk_keys[pk as usize - 1].as_str();
                let mut ops = 0u64;
                while Instant::now() < deadline {
                    if cached {
                        target.find_by_pk(mode, pk).await?;
                    } else {
                        target.raw_get(key).await?;
                    }
                    ops += 1;
                }
                Ok::<u64, crate::fixtures::BenchError>(ops)
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await??;
    }
    Ok((total, started.elapsed()))
}

async fn level(
    target: &Arc<HitTarget>,
    config: &ThroughputConfig,
    level: Level,
) -> BenchResult<ThroughputRow> {
    let (mode, keys, concurrency) = level;
    let per_slice =
        Duration::from_secs_f64(config.seconds_per_side / config.slices_per_side as f64);
    // Warm-up: connections, task pools, allocator caches.
    slice(target, false, level, Duration::from_millis(200)).await?;
    slice(target, true, level, Duration::from_millis(200)).await?;
    let mut ops = [0u64; 2];
    let mut time = [Duration::ZERO; 2];
    let mut pair = [0.0f64; 2];
    let mut pair_ratios = Vec::new();
    for k in 0..config.slices_per_side * 2 {
        // raw, cached, cached, raw, raw, cached, ...: slices 2i and 2i + 1 are a pair.
        let side = usize::from(matches!(k % 4, 1 | 2));
        let (n, t) = slice(target, side == 1, level, per_slice).await?;
        ops[side] += n;
        time[side] += t;
        pair[side] = n as f64 / t.as_secs_f64();
        if k % 2 == 1 {
            pair_ratios.push(pair[1] / pair[0]);
        }
    }
    let raw = ops[0] as f64 / time[0].as_secs_f64();
    let cached = ops[1] as f64 / time[1].as_secs_f64();
    Ok(ThroughputRow {
        mode,
        keys,
        concurrency,
        raw_ops_per_sec: raw.round(),
        cached_ops_per_sec: cached.round(),
        ratio: ratio(median(&mut pair_ratios), 1.0),
        ratio_of_totals: ratio(cached, raw),
    })
}

/// The median of `values` (0 when empty).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Runs the scenario on in-memory SQLite and momento-lite.
pub async fn run(config: ThroughputConfig, standalone: bool) -> BenchResult<ThroughputReport> {
    let server = Server::start(standalone).await?;
    let db = crate::fixtures::sqlite_with_users(KEYED_USERS).await?;
    let target = HitTarget::new(db, server.backend()).await?;
    let mut rows = Vec::new();
    let series = [
        (Mode::Default, Keys::Distinct),
        (Mode::TtlOnly, Keys::Distinct),
        (Mode::Default, Keys::Same),
    ];
    for (mode, keys) in series {
        for &concurrency in &config.concurrency {
            rows.push(level(&target, &config, (mode, keys, concurrency)).await?);
        }
    }
    drop(target);
    server.stop().await;
    Ok(ThroughputReport {
        seconds_per_side: config.seconds_per_side,
        slices_per_side: config.slices_per_side,
        rows,
    })
}

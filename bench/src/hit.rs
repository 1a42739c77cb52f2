//! Hit latency against the physical limit.
//!
//! A cache hit can never be faster than the backend's own `get` of the same key returning the
//! same bytes, so that raw SDK call is the yardstick: everything the library adds (key building,
//! statement building, generations, tracing, the trait object, copying the value, decoding) is
//! the gap between the two. The default cache (`Consistency::Strict`) fetches the value and its
//! tables' generations in one `get_batch`, so the raw `get_batch` of exactly those keys is
//! measured too, as the limit of that design. Every operation runs once per round, interleaved
//! in one loop and rotated each round so that none always runs first or after the same
//! neighbour:
//!
//! * raw SDK `get` of the `find_by_pk` key, and `cache.wrap(E).find_by_pk(&db, 1)` (default);
//! * raw SDK `get_batch` of the value key plus the two generation keys a `Strict` hit reads;
//! * raw SDK `get` of the `TtlOnly` cache's key (same length), and `find_by_pk` on that cache;
//! * `find_by_pk` on a `Bounded(1 s)` cache (its key has the same length as the default's);
//! * raw SDK `get` of the `.cached().all()` key, and `E::find().filter(id = 1).cached(&cache)
//!   .all(&db)` (default), building the select each time as user code does.

use serde::Serialize;

use crate::fixtures::{BenchResult, Lite};
use crate::hit_target::{HitTarget, Mode, KEYED_USERS};
use crate::standalone::Server;
use crate::stats::{ratio, timed, Samples, Summary};

/// How many measured rounds (each runs every operation once) and warm-up rounds.
#[derive(Debug, Clone, Copy)]
pub struct HitConfig {
    pub rounds: usize,
    pub warmup: usize,
}

/// The operations of a round, in their base order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    RawGet,
    FindByPk,
    RawGetBatch,
    RawGetTtlOnlyKey,
    FindByPkTtlOnly,
    FindByPkBounded,
    RawGetAllKey,
    CachedAll,
}

const OPS: [Op; 8] = [
    Op::RawGet,
    Op::FindByPk,
    Op::RawGetBatch,
    Op::RawGetTtlOnlyKey,
    Op::FindByPkTtlOnly,
    Op::FindByPkBounded,
    Op::RawGetAllKey,
    Op::CachedAll,
];

/// The hit scenario's figures.
#[derive(Debug, Clone, Serialize)]
pub struct HitReport {
    pub rounds: usize,
    pub find_by_pk_key: String,
    pub find_by_pk_value_bytes: usize,
    pub all_key: String,
    pub all_value_bytes: usize,
    pub raw_get: Summary,
    /// Default settings (`Consistency::Strict`).
    pub find_by_pk: Summary,
    pub raw_get_batch_strict_keys: Summary,
    pub raw_get_ttl_only_key: Summary,
    pub find_by_pk_ttl_only: Summary,
    pub find_by_pk_bounded: Summary,
    pub raw_get_all_key: Summary,
    pub cached_all: Summary,
    /// Default `find_by_pk` over the raw get of its key.
    pub find_by_pk_p50_ratio: f64,
    pub find_by_pk_p99_ratio: f64,
    /// Default `find_by_pk` over the raw `get_batch` of the keys it reads.
    pub find_by_pk_vs_batch_p50_ratio: f64,
    pub find_by_pk_vs_batch_p99_ratio: f64,
    /// `TtlOnly` `find_by_pk` over the raw get of its key.
    pub ttl_only_p50_ratio: f64,
    pub ttl_only_p99_ratio: f64,
    /// `Bounded` `find_by_pk` over the raw get of the default key.
    pub bounded_p50_ratio: f64,
    pub bounded_p99_ratio: f64,
    /// `.cached().all()` over the raw get of its key.
    pub cached_all_p50_ratio: f64,
    pub cached_all_p99_ratio: f64,
    /// Keys momento-lite looked up per default (`Strict`) `find_by_pk` hit: each is an element
    /// Momento bills (`None` against a standalone server, which does not count them).
    pub keys_per_strict_pk_hit: Option<f64>,
    /// Keys momento-lite looked up per default `.cached().all()` hit.
    pub keys_per_strict_list_hit: Option<f64>,
    /// Keys looked up per `TtlOnly` `find_by_pk` hit.
    pub keys_per_ttl_only_pk_hit: Option<f64>,
}

/// How many calls each key count is averaged over.
const KEY_COUNT_CALLS: u64 = 100;

/// The keys the server looked up per call of `op`, averaged over [`KEY_COUNT_CALLS`] calls
/// made after sampling (every one a hit).
async fn keys_per_call(target: &HitTarget, lite: &Lite, op: Op) -> BenchResult<f64> {
    let before = lite.server.keys_read();
    for _ in 0..KEY_COUNT_CALLS {
        once(target, op).await?;
    }
    let keys = lite.server.keys_read() - before;
    Ok(keys as f64 / KEY_COUNT_CALLS as f64)
}

async fn once(target: &HitTarget, op: Op) -> BenchResult<u64> {
    let ttl_key = &target.variant(Mode::TtlOnly).pk_keys[0];
    let pk_key = &target.variant(Mode::Default).pk_keys[0];
    let (result, nanos) = match op {
        Op::RawGet => timed(async { target.raw_get(pk_key).await.map(drop) }).await,
        Op::FindByPk => timed(target.find_by_pk(Mode::Default, 1)).await,
        Op::RawGetBatch => timed(target.raw_get_batch()).await,
        Op::RawGetTtlOnlyKey => timed(async { target.raw_get(ttl_key).await.map(drop) }).await,
        Op::FindByPkTtlOnly => timed(target.find_by_pk(Mode::TtlOnly, 1)).await,
        Op::FindByPkBounded => timed(target.find_by_pk(Mode::Bounded, 1)).await,
        Op::RawGetAllKey => timed(async { target.raw_get(&target.all_key).await.map(drop) }).await,
        Op::CachedAll => timed(target.cached_all()).await,
    };
    result.map(|()| nanos)
}

/// Runs every operation `warmup + rounds` times, rotating the order; returns one summary per
/// operation, in [`OPS`] order.
async fn sample(target: &HitTarget, config: HitConfig) -> BenchResult<Vec<Summary>> {
    let mut samples: Vec<Samples> = (0..OPS.len())
        .map(|_| Samples::with_capacity(config.rounds))
        .collect();
    for round in 0..config.warmup + config.rounds {
        for j in 0..OPS.len() {
            let i = (round + j) % OPS.len();
            let nanos = once(target, OPS[i]).await?;
            if round >= config.warmup {
                samples[i].push(nanos);
            }
        }
    }
    Ok(samples.into_iter().map(Samples::summary).collect())
}

/// Runs the scenario on in-memory SQLite and momento-lite: in this process, or (`standalone`)
/// started as its own process, where the keys read are not counted.
pub async fn run(config: HitConfig, standalone: bool) -> BenchResult<HitReport> {
    let server = Server::start(standalone).await?;
    let db = crate::fixtures::sqlite_with_users(KEYED_USERS).await?;
    let target = HitTarget::new(db, server.backend()).await?;
    let s = sample(&target, config).await?;
    let at = |op: Op| s[OPS.iter().position(|&o| o == op).unwrap_or(0)];
    let r = |a: Op, b: Op| {
        (
            ratio(at(a).p50_us, at(b).p50_us),
            ratio(at(a).p99_us, at(b).p99_us),
        )
    };
    let pk_key = target.variant(Mode::Default).pk_keys[0].clone();
    let (mut keys_per_strict_pk_hit, mut keys_per_strict_list_hit) = (None, None);
    let mut keys_per_ttl_only_pk_hit = None;
    if let Some(lite) = server.lite() {
        keys_per_strict_pk_hit = Some(keys_per_call(&target, lite, Op::FindByPk).await?);
        keys_per_strict_list_hit = Some(keys_per_call(&target, lite, Op::CachedAll).await?);
        keys_per_ttl_only_pk_hit = Some(keys_per_call(&target, lite, Op::FindByPkTtlOnly).await?);
    }
    let report = HitReport {
        rounds: config.rounds,
        find_by_pk_value_bytes: target.raw_get(&pk_key).await?,
        find_by_pk_key: pk_key,
        all_value_bytes: target.raw_get(&target.all_key).await?,
        all_key: target.all_key.clone(),
        raw_get: at(Op::RawGet),
        find_by_pk: at(Op::FindByPk),
        raw_get_batch_strict_keys: at(Op::RawGetBatch),
        raw_get_ttl_only_key: at(Op::RawGetTtlOnlyKey),
        find_by_pk_ttl_only: at(Op::FindByPkTtlOnly),
        find_by_pk_bounded: at(Op::FindByPkBounded),
        raw_get_all_key: at(Op::RawGetAllKey),
        cached_all: at(Op::CachedAll),
        find_by_pk_p50_ratio: r(Op::FindByPk, Op::RawGet).0,
        find_by_pk_p99_ratio: r(Op::FindByPk, Op::RawGet).1,
        find_by_pk_vs_batch_p50_ratio: r(Op::FindByPk, Op::RawGetBatch).0,
        find_by_pk_vs_batch_p99_ratio: r(Op::FindByPk, Op::RawGetBatch).1,
        ttl_only_p50_ratio: r(Op::FindByPkTtlOnly, Op::RawGetTtlOnlyKey).0,
        ttl_only_p99_ratio: r(Op::FindByPkTtlOnly, Op::RawGetTtlOnlyKey).1,
        bounded_p50_ratio: r(Op::FindByPkBounded, Op::RawGet).0,
        bounded_p99_ratio: r(Op::FindByPkBounded, Op::RawGet).1,
        cached_all_p50_ratio: r(Op::CachedAll, Op::RawGetAllKey).0,
        cached_all_p99_ratio: r(Op::CachedAll, Op::RawGetAllKey).1,
        keys_per_strict_pk_hit,
        keys_per_strict_list_hit,
        keys_per_ttl_only_pk_hit,
    };
    drop(target);
    server.stop().await;
    Ok(report)
}

impl HitReport {
    /// Prints the table.
    pub fn print(&self) {
        println!("\n== hit: hit latency vs the raw SDK call of the same keys (momento-lite) ==");
        println!(
            "  find_by_pk key {} ({} bytes stored)",
            self.find_by_pk_key, self.find_by_pk_value_bytes
        );
        println!(
            "  .cached().all() key {} ({} bytes stored)",
            self.all_key, self.all_value_bytes
        );
        println!("{}", Summary::header());
        let rows = [
            (&self.raw_get, "raw SDK get (find_by_pk key)"),
            (&self.find_by_pk, "find_by_pk hit (default: Strict)"),
            (
                &self.raw_get_batch_strict_keys,
                "raw SDK get_batch (Strict's keys)",
            ),
            (&self.raw_get_ttl_only_key, "raw SDK get (TtlOnly key)"),
            (&self.find_by_pk_ttl_only, "find_by_pk hit (TtlOnly)"),
            (&self.find_by_pk_bounded, "find_by_pk hit (Bounded 1 s)"),
            (&self.raw_get_all_key, "raw SDK get (.all() key)"),
            (&self.cached_all, ".cached().all() hit (default)"),
        ];
        for (summary, label) in rows {
            println!("{}", summary.row(label));
        }
        let pairs = [
            (
                "find_by_pk (default) / raw get",
                self.find_by_pk_p50_ratio,
                self.find_by_pk_p99_ratio,
            ),
            (
                "find_by_pk (default) / raw get_batch",
                self.find_by_pk_vs_batch_p50_ratio,
                self.find_by_pk_vs_batch_p99_ratio,
            ),
            (
                "find_by_pk (TtlOnly) / raw get",
                self.ttl_only_p50_ratio,
                self.ttl_only_p99_ratio,
            ),
            (
                "find_by_pk (Bounded) / raw get",
                self.bounded_p50_ratio,
                self.bounded_p99_ratio,
            ),
            (
                ".cached().all() / raw get",
                self.cached_all_p50_ratio,
                self.cached_all_p99_ratio,
            ),
        ];
        for (label, p50, p99) in pairs {
            println!("  {label:<38} p50 {p50:.3}x  p99 {p99:.3}x");
        }
        if let (Some(pk), Some(list), Some(ttl_only)) = (
            self.keys_per_strict_pk_hit,
            self.keys_per_strict_list_hit,
            self.keys_per_ttl_only_pk_hit,
        ) {
            println!(
                "  keys read per hit (server-side): find_by_pk Strict {pk:.2}, .cached().all() Strict {list:.2}, find_by_pk TtlOnly {ttl_only:.2}"
            );
        }
    }
}

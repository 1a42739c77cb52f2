//! Where the cache pays: an expensive query uncached against its cached hit.
//!
//! A hit costs one cache round trip plus decoding, which is more than a primary-key lookup on a
//! local SQLite. The case for the cache is a query that makes the database work: here a join of
//! every order to its user, grouped by the user's group with a COUNT and a SUM, over 100,000
//! orders by default. It runs on in-memory SQLite and, when reachable, on PostgreSQL (in a
//! schema of our own, dropped afterwards). Each round runs the query uncached, then five cache
//! calls alternating `.cached().all()` hits with raw SDK gets of the same key. The first cache
//! call after a 10–20 ms query pays for the runtime having gone idle (threads parked, caches
//! cold), raw or not, so it is reported apart; the headline speedup divides by the other hits.

use momento::cache::GetResponse;
use momento_seaorm_cache::{CacheQueryExt, CacheStatus, ModelCache};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, FromQueryResult, JoinType, QueryOrder,
    QuerySelect, RelationTrait, SelectModel, Selector,
};
use serde::{Deserialize, Serialize};

use crate::fixtures::{self, order, user, BenchResult, Lite, PgSchema};
use crate::stats::{ratio, timed, Samples, Summary};

/// Size of the data and number of alternating rounds.
#[derive(Debug, Clone)]
pub struct ExpensiveConfig {
    pub orders: usize,
    pub users: i32,
    pub rounds: usize,
    pub warmup: usize,
    /// PostgreSQL server to use; `None` skips it.
    pub postgres_url: Option<String>,
}

/// One result row: order count and total per user group.
#[derive(Debug, Clone, PartialEq, FromQueryResult, Serialize, Deserialize)]
pub struct GroupTotal {
    pub group_id: i32,
    pub orders: i64,
    pub total: f64,
}

/// Figures on one database.
#[derive(Debug, Clone, Serialize)]
pub struct DbFigures {
    pub database: &'static str,
    pub orders: usize,
    pub users: i32,
    pub result_rows: usize,
    pub stored_bytes: usize,
    pub uncached: Summary,
    /// `.cached().all()` hits that follow other cache calls (a process serving traffic).
    pub cached_hit: Summary,
    /// The raw SDK `get` of the same key, interleaved with `cached_hit`.
    pub raw_get: Summary,
    /// The first cache call right after an uncached query (the runtime had gone idle).
    pub cached_hit_after_query: Summary,
    pub raw_get_after_query: Summary,
    /// Uncached p50 over cached-hit p50.
    pub speedup_p50: f64,
    pub speedup_mean: f64,
    /// Uncached p50 over the p50 of the cached hit right after a query.
    pub speedup_after_query_p50: f64,
    /// Uncached p50 over the raw SDK get p50: the most any cache over this backend could give.
    pub raw_get_speedup_p50: f64,
}

/// The expensive scenario's figures.
#[derive(Debug, Clone, Serialize)]
pub struct ExpensiveReport {
    pub sqlite: DbFigures,
    pub postgres: Option<DbFigures>,
    /// Why PostgreSQL was skipped, if it was.
    pub postgres_skipped: Option<String>,
}

/// The query: a join of every order to its user and two aggregates per group.
pub fn totals_per_group() -> Selector<SelectModel<GroupTotal>> {
    order::Entity::find()
        .select_only()
        .column(user::Column::GroupId)
        .column_as(order::Column::Id.count(), "orders")
        .column_as(order::Column::Amount.sum(), "total")
        .join(JoinType::InnerJoin, order::Relation::User.def())
        .group_by(user::Column::GroupId)
        .order_by_asc(user::Column::GroupId)
        .into_model::<GroupTotal>()
}

/// The four cache-side samples: cached and raw, right after a query and otherwise.
#[derive(Default)]
struct CacheSamples {
    cached_after_query: Samples,
    raw_after_query: Samples,
    cached: Samples,
    raw: Samples,
}

/// After each uncached query: the first cache call (cached hit or raw get, alternating by
/// round), then two more of each kind, alternating.
async fn cache_reads(
    db: &DatabaseConnection,
    cache: &ModelCache,
    (lite, key): (&Lite, &str),
    round: usize,
    out: Option<&mut CacheSamples>,
) -> BenchResult<()> {
    let mut nanos = [0u64; 5];
    for (i, slot) in nanos.iter_mut().enumerate() {
        let cached = (round + i).is_multiple_of(2);
        *slot = if cached {
            let (rows, ns) = timed(totals_per_group().cached(cache).all(db)).await;
            rows?;
            ns
        } else {
            let (got, ns) = timed(lite.client.get(lite.cache_name(), key)).await;
            if !matches!(got?, GetResponse::Hit { .. }) {
                return Err("raw get missed".into());
            }
            ns
        };
    }
    if let Some(out) = out {
        let (first, rest) = if round.is_multiple_of(2) {
            (&mut out.cached_after_query, [&mut out.raw, &mut out.cached])
        } else {
            (&mut out.raw_after_query, [&mut out.cached, &mut out.raw])
        };
        first.push(nanos[0]);
        let [a, b] = rest;
        for (i, &ns) in nanos[1..].iter().enumerate() {
            if i.is_multiple_of(2) {
                a.push(ns)
            } else {
                b.push(ns)
            }
        }
    }
    Ok(())
}

/// Checks the cached answer, then alternates uncached queries with cache reads.
async fn measure(
    database: &'static str,
    db: &DatabaseConnection,
    cache: &ModelCache,
    lite: &Lite,
    config: &ExpensiveConfig,
) -> BenchResult<DbFigures> {
    let expected = totals_per_group().all(db).await?;
    let first = totals_per_group().cached(cache).all_with_status(db).await?;
    tokio::time::sleep(crate::hit_target::RECENTLY_LOADED).await;
    let again = totals_per_group().cached(cache).all_with_status(db).await?;
    if first.value != expected || again.value != expected || again.status != CacheStatus::Hit {
        return Err(format!("{database}: cached totals differ from the database's").into());
    }
    let key = again.key.ok_or("no key")?;
    let stored = cache
        .backend()
        .get(key.as_str())
        .await?
        .map_or(0, |b| b.len());
    let mut uncached = Samples::with_capacity(config.rounds);
    let mut reads = CacheSamples::default();
    for round in 0..config.warmup + config.rounds {
        let (rows, ns) = timed(totals_per_group().all(db)).await;
        rows?;
        let measured = round >= config.warmup;
        if measured {
            uncached.push(ns);
        }
        let out = measured.then_some(&mut reads);
        cache_reads(db, cache, (lite, key.as_str()), round, out).await?;
    }
    let uncached = uncached.summary();
    let cached = reads.cached.summary();
    let raw = reads.raw.summary();
    let cached_after = reads.cached_after_query.summary();
    Ok(DbFigures {
        database,
        orders: config.orders,
        users: config.users,
        result_rows: expected.len(),
        stored_bytes: stored,
        uncached,
        cached_hit: cached,
        raw_get: raw,
        cached_hit_after_query: cached_after,
        raw_get_after_query: reads.raw_after_query.summary(),
        speedup_p50: ratio(uncached.p50_us, cached.p50_us),
        speedup_mean: ratio(uncached.mean_us, cached.mean_us),
        speedup_after_query_p50: ratio(uncached.p50_us, cached_after.p50_us),
        raw_get_speedup_p50: ratio(uncached.p50_us, raw.p50_us),
    })
}

async fn seed(db: &DatabaseConnection, config: &ExpensiveConfig) -> BenchResult<()> {
    fixtures::create_tables(db).await?;
    fixtures::seed_users(db, config.users).await?;
    fixtures::seed_orders(db, config.orders, config.users).await
}

async fn on_sqlite(
    cache: &ModelCache,
    lite: &Lite,
    config: &ExpensiveConfig,
) -> BenchResult<DbFigures> {
    let db = fixtures::sqlite_with_users(config.users).await?;
    fixtures::seed_orders(&db, config.orders, config.users).await?;
    measure("sqlite", &db, cache, lite, config).await
}

/// `Ok(Err(reason))` when the server is not reachable.
async fn on_postgres(
    url: &str,
    cache: &ModelCache,
    lite: &Lite,
    config: &ExpensiveConfig,
) -> BenchResult<Result<DbFigures, String>> {
    let schema = match PgSchema::create(url).await {
        Ok(schema) => schema,
        Err(reason) => {
            return Ok(Err(format!(
                "PostgreSQL at {url} is not reachable: {reason}"
            )))
        }
    };
    let result = match seed(&schema.conn, config).await {
        Ok(()) => measure("postgres", &schema.conn, cache, lite, config).await,
        Err(e) => Err(e),
    };
    schema.drop_schema().await?;
    result.map(Ok)
}

/// Runs the scenario on SQLite and, if reachable, PostgreSQL, with momento-lite as the cache.
pub async fn run(config: ExpensiveConfig) -> BenchResult<ExpensiveReport> {
    let lite = Lite::start().await?;
    let cache = lite.model_cache()?;
    let sqlite = on_sqlite(&cache, &lite, &config).await?;
    let (postgres, postgres_skipped) = match &config.postgres_url {
        None => (None, Some("no PostgreSQL URL given".to_owned())),
        Some(url) => match on_postgres(url, &cache, &lite, &config).await? {
            Ok(figures) => (Some(figures), None),
            Err(reason) => (None, Some(reason)),
        },
    };
    lite.stop().await;
    Ok(ExpensiveReport {
        sqlite,
        postgres,
        postgres_skipped,
    })
}

impl ExpensiveReport {
    /// Prints the table.
    pub fn print(&self) {
        println!("\n== expensive: join + COUNT + SUM per group, uncached vs cached hit ==");
        for f in [Some(&self.sqlite), self.postgres.as_ref()]
            .into_iter()
            .flatten()
        {
            println!(
                "  {}: {} orders, {} users, {} result rows, {} bytes stored",
                f.database, f.orders, f.users, f.result_rows, f.stored_bytes
            );
            println!("{}", Summary::header());
            println!("{}", f.uncached.row("uncached query"));
            println!("{}", f.cached_hit.row(".cached().all() hit"));
            println!("{}", f.raw_get.row("raw SDK get of its key"));
            println!(
                "{}",
                f.cached_hit_after_query
                    .row("  first call after a query: hit")
            );
            println!(
                "{}",
                f.raw_get_after_query.row("  first call after a query: raw")
            );
            println!(
                "  speedup: p50 {:.1}x, mean {:.1}x; first call after a query p50 {:.1}x; \
                 raw get (the limit) p50 {:.1}x",
                f.speedup_p50, f.speedup_mean, f.speedup_after_query_p50, f.raw_get_speedup_p50
            );
        }
        if let Some(reason) = &self.postgres_skipped {
            println!("  NOTE: PostgreSQL skipped: {reason}");
        }
    }
}

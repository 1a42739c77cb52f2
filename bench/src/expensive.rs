//! Where the cache pays: an expensive query uncached against its cached hit.
//!
//! A hit costs one cache round trip plus decoding, which is more than a primary-key lookup on a
//! local SQLite. The case for the cache is a query that makes the database work: here a join of
//! every order to its user, grouped by the user's group with a COUNT and a SUM, over 100,000
//! orders by default. It runs on in-memory SQLite and, when reachable, on PostgreSQL (in a
//! schema of our own, dropped afterwards), alternating uncached and cached runs.

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
    pub cached_hit: Summary,
    /// Uncached p50 over cached-hit p50.
    pub speedup_p50: f64,
    pub speedup_mean: f64,
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

async fn measure(
    database: &'static str,
    db: &DatabaseConnection,
    cache: &ModelCache,
    config: &ExpensiveConfig,
) -> BenchResult<DbFigures> {
    let expected = totals_per_group().all(db).await?;
    let first = totals_per_group().cached(cache).all_with_status(db).await?;
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
    let mut cached = Samples::with_capacity(config.rounds);
    for round in 0..config.warmup + config.rounds {
        let (u, c) = if round % 2 == 0 {
            let u = timed(totals_per_group().all(db)).await;
            (u, timed(totals_per_group().cached(cache).all(db)).await)
        } else {
            let c = timed(totals_per_group().cached(cache).all(db)).await;
            (timed(totals_per_group().all(db)).await, c)
        };
        u.0?;
        c.0?;
        if round >= config.warmup {
            uncached.push(u.1);
            cached.push(c.1);
        }
    }
    let (uncached, cached) = (uncached.summary(), cached.summary());
    Ok(DbFigures {
        database,
        orders: config.orders,
        users: config.users,
        result_rows: expected.len(),
        stored_bytes: stored,
        uncached,
        cached_hit: cached,
        speedup_p50: ratio(uncached.p50_us, cached.p50_us),
        speedup_mean: ratio(uncached.mean_us, cached.mean_us),
    })
}

async fn seed(db: &DatabaseConnection, config: &ExpensiveConfig) -> BenchResult<()> {
    fixtures::create_tables(db).await?;
    fixtures::seed_users(db, config.users).await?;
    fixtures::seed_orders(db, config.orders, config.users).await
}

async fn on_sqlite(cache: &ModelCache, config: &ExpensiveConfig) -> BenchResult<DbFigures> {
    let db = fixtures::sqlite_with_users(config.users).await?;
    fixtures::seed_orders(&db, config.orders, config.users).await?;
    measure("sqlite", &db, cache, config).await
}

/// `Ok(Err(reason))` when the server is not reachable.
async fn on_postgres(
    url: &str,
    cache: &ModelCache,
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
        Ok(()) => measure("postgres", &schema.conn, cache, config).await,
        Err(e) => Err(e),
    };
    schema.drop_schema().await?;
    result.map(Ok)
}

/// Runs the scenario on SQLite and, if reachable, PostgreSQL, with momento-lite as the cache.
pub async fn run(config: ExpensiveConfig) -> BenchResult<ExpensiveReport> {
    let lite = Lite::start().await?;
    let cache = lite.model_cache()?;
    let sqlite = on_sqlite(&cache, &config).await?;
    let (postgres, postgres_skipped) = match &config.postgres_url {
        None => (None, Some("no PostgreSQL URL given".to_owned())),
        Some(url) => match on_postgres(url, &cache, &config).await? {
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
            println!(
                "  speedup: p50 {:.1}x, mean {:.1}x",
                f.speedup_p50, f.speedup_mean
            );
        }
        if let Some(reason) = &self.postgres_skipped {
            println!("  NOTE: PostgreSQL skipped: {reason}");
        }
    }
}
